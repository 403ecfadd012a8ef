// Package hub pulls model repositories from the Hugging Face Hub (or a
// mirror speaking the same HTTP API) into the cache layout that Python's
// huggingface_hub uses, so that both tools share downloaded files.
//
// # References
//
// [ParseRef] reads "hf:ORG/NAME[@REV][/SUBFOLDER]" and "ORG/NAME[@REV]".
// A revision is a branch, a tag or a commit hash; it ends at the first "/",
// so a revision that itself holds a slash (refs/pr/1) is written escaped
// (refs%2Fpr%2F1).
//
// # Cache layout
//
// The cache root is $HF_HUB_CACHE, else $HF_HOME/hub, else
// ~/.cache/huggingface/hub. One repository lives in
//
//	models--ORG--NAME/
//	  blobs/<etag>                 file contents, named by ETag: the sha256 of
//	                               LFS files, the git blob sha1 of the others
//	  blobs/<etag>.incomplete      a transfer in progress, resumed with Range
//	  snapshots/<commit>/<path>    relative symlinks to ../../blobs/<etag>
//	  refs/<revision>              the commit hash the revision pointed to
//
// and cross-process locks sit in .locks/models--ORG--NAME/<etag>.lock, as
// huggingface_hub keeps them.
//
// # Protocol
//
// [Client.Pull] lists a revision with GET /api/models/ORG/NAME/revision/REV
// ?blobs=true (the commit hash plus every file with its size, git blob id and,
// for LFS files, sha256), then downloads each selected file from
// /ORG/NAME/resolve/COMMIT/PATH, following redirects to another host (the
// LFS store or a CDN; the token is not sent there). When a listing lacks the
// blob ids, a HEAD request on the resolve address supplies them from the
// X-Linked-Etag / ETag and X-Linked-Size / Content-Length headers. Every
// file is checked before its blob is published by rename: size, then sha256
// for LFS files and the git blob sha1 for the others.
//
// # Globs
//
// Include and exclude patterns follow huggingface-cli's --include and
// --exclude, which use Python's fnmatch on the whole path: "*" matches any
// run of characters including "/", "?" one character, "[abc]", "[a-z]" and
// "[!abc]" (or "[^abc]") a set. So "*.json" selects JSON files at every
// depth and "unet/*" everything under unet; "**" means the same as "*". A
// pattern ending in "/" selects that folder's whole tree. A file is pulled
// when it matches some include pattern (or none are given) and no exclude
// pattern.
//
// # Environment
//
// [NewClientFromEnv] reads HF_ENDPOINT, HF_TOKEN (else the token file that
// "huggingface-cli login" writes), HF_HOME, HF_HUB_CACHE and HF_HUB_OFFLINE.
//
// The package does not upload, does not manage or prune the cache, and does
// not know model families: it hands back a folder; reading it is the job of
// the pipeline package.
package hub
