package tokenizer

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// The parts of a Hugging Face tokenizer.json this package reads.
type tjFile struct {
	AddedTokens   []jsonAddedToken `json:"added_tokens"`
	Normalizer    *tjNode          `json:"normalizer"`
	PreTokenizer  *tjNode          `json:"pre_tokenizer"`
	PostProcessor *tjNode          `json:"post_processor"`
	Decoder       *tjNode          `json:"decoder"`
	Model         tjModel          `json:"model"`
}

type tjModel struct {
	Type                    string          `json:"type"`
	Vocab                   json.RawMessage `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
	UnkToken                *string         `json:"unk_token"`
	UnkID                   *int            `json:"unk_id"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	ByteFallback            bool            `json:"byte_fallback"`
	Dropout                 *float64        `json:"dropout"`
}

// tjNode is any normalizer, pre-tokenizer, post-processor or decoder; each
// type reads the fields it needs.
type tjNode struct {
	Type          string    `json:"type"`
	Normalizers   []*tjNode `json:"normalizers"`
	PreTokenizers []*tjNode `json:"pretokenizers"`
	Processors    []*tjNode `json:"processors"`

	Pattern        *struct{ String, Regex *string } `json:"pattern"`
	Content        string                           `json:"content"`
	Behavior       string                           `json:"behavior"`
	Invert         bool                             `json:"invert"`
	AddPrefixSpace *bool                            `json:"add_prefix_space"`
	UseRegex       *bool                            `json:"use_regex"`
	Replacement    string                           `json:"replacement"`
	PrependScheme  string                           `json:"prepend_scheme"`
	Split          *bool                            `json:"split"`
	Charsmap       *string                          `json:"precompiled_charsmap"`
	StripLeft      bool                             `json:"strip_left"`
	StripRight     bool                             `json:"strip_right"`
	Prepend        string                           `json:"prepend"`

	CLS           []json.RawMessage                `json:"cls"`
	SEP           []json.RawMessage                `json:"sep"`
	Single        []map[string]struct{ ID string } `json:"single"`
	SpecialTokens map[string]struct{ IDs []int }   `json:"special_tokens"`
}

// loadTokenizerJSON builds the pipeline a tokenizer.json describes, with
// the folder's configuration for padding and lengths.
func loadTokenizerJSON(dir string, cfg *config) (Tokenizer, error) {
	const file = "tokenizer.json"
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var tj tjFile
	if err := json.Unmarshal(data, &tj); err != nil {
		return nil, formatErr(file, "invalid JSON: %v", err)
	}
	p := &pipeline{}
	var modelVocab map[string]int
	switch tj.Model.Type {
	case "BPE", "":
		m, v, err := tjBPE(file, &tj.Model)
		if err != nil {
			return nil, err
		}
		p.model, modelVocab = m, v
		p.vocab = vocabTable(v)
		suffix := ""
		if tj.Model.EndOfWordSuffix != nil {
			suffix = *tj.Model.EndOfWordSuffix
		}
		p.decoder = byteLevelDecoder{suffix: suffix}
	case "Unigram":
		m, toks, err := tjUnigram(file, &tj.Model)
		if err != nil {
			return nil, err
		}
		p.model, p.vocab = m, toks
		p.decoder = metaspaceDecoder{replacement: "▁"}
		if d := tj.Decoder; d != nil && d.Type == "Metaspace" {
			p.decoder = metaspaceDecoder{replacement: orDefault(d.Replacement, "▁"), scheme: parsePrependScheme(d)}
		}
	default:
		return nil, formatErr(file, "model type %q is not supported (want BPE or Unigram)", tj.Model.Type)
	}

	var added []addedToken
	for _, t := range tj.AddedTokens {
		if t.ID < 0 || t.ID >= maxVocab {
			return nil, formatErr(file, "added token %q has id %d", t.Content, t.ID)
		}
		for len(p.vocab) <= t.ID {
			p.vocab = append(p.vocab, "")
		}
		p.vocab[t.ID] = t.Content
		added = append(added, t.token(t.ID))
	}
	p.added = newAddedTokens(added)

	if p.normalize, err = tjNormalizers(file, tj.Normalizer); err != nil {
		return nil, err
	}
	if p.pretok, err = tjPreTokenizers(file, tj.PreTokenizer); err != nil {
		return nil, err
	}
	if p.prefix, p.suffix, err = tjPostProcessor(file, tj.PostProcessor); err != nil {
		return nil, err
	}
	eosDefault := "</s>"
	if modelVocab != nil {
		eosDefault = clipEOS
	}
	if n := len(p.suffix); n > 0 && p.suffix[n-1] < len(p.vocab) {
		eosDefault = p.vocab[p.suffix[n-1]]
	}
	if err := p.finish(file, cfg, eosDefault); err != nil {
		return nil, err
	}
	return p, nil
}

func tjBPE(file string, m *tjModel) (*bpe, map[string]int, error) {
	if m.Dropout != nil && *m.Dropout > 0 {
		return nil, nil, formatErr(file, "BPE dropout is not supported")
	}
	if m.ByteFallback {
		return nil, nil, formatErr(file, "BPE byte_fallback is not supported")
	}
	var vocab map[string]int
	if err := json.Unmarshal(m.Vocab, &vocab); err != nil || len(vocab) == 0 {
		return nil, nil, formatErr(file, "model.vocab is not a non-empty object of token ids")
	}
	if err := checkIDs(file, vocab); err != nil {
		return nil, nil, err
	}
	// Merges are "a b" strings in older files and ["a", "b"] pairs in
	// newer ones.
	var merges [][2]string
	var asStrings []string
	if err := json.Unmarshal(m.Merges, &asStrings); err == nil {
		for i, s := range asStrings {
			a, b, ok := strings.Cut(s, " ")
			if !ok || strings.Contains(b, " ") {
				return nil, nil, formatErr(file, "merge %d %q is not two tokens separated by one space", i+1, s)
			}
			merges = append(merges, [2]string{a, b})
		}
	} else if err := json.Unmarshal(m.Merges, &merges); err != nil {
		return nil, nil, formatErr(file, "model.merges is neither strings nor pairs: %v", err)
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	b, err := newBPE(file, vocab, merges, str(m.EndOfWordSuffix), str(m.ContinuingSubwordPrefix), str(m.UnkToken), m.IgnoreMerges)
	return b, vocab, err
}

func tjUnigram(file string, m *tjModel) (*unigram, []string, error) {
	var raw [][]any
	if err := json.Unmarshal(m.Vocab, &raw); err != nil || len(raw) == 0 {
		return nil, nil, formatErr(file, "model.vocab is not a non-empty list of [piece, score]")
	}
	toks := make([]string, len(raw))
	scores := make([]float64, len(raw))
	for i, e := range raw {
		var ok1, ok2 bool
		if len(e) == 2 {
			toks[i], ok1 = e[0].(string)
			scores[i], ok2 = e[1].(float64)
		}
		if !ok1 || !ok2 {
			return nil, nil, formatErr(file, "model.vocab[%d] is not [piece, score]", i)
		}
	}
	if m.UnkID == nil {
		return nil, nil, formatErr(file, "Unigram model without unk_id")
	}
	u, err := newUnigram(file, toks, scores, *m.UnkID, m.ByteFallback)
	return u, toks, err
}

func tjNormalizers(file string, n *tjNode) ([]normalizer, error) {
	if n == nil {
		return nil, nil
	}
	switch n.Type {
	case "Sequence":
		var out []normalizer
		for _, c := range n.Normalizers {
			ns, err := tjNormalizers(file, c)
			if err != nil {
				return nil, err
			}
			out = append(out, ns...)
		}
		return out, nil
	case "NFC":
		return []normalizer{unicodeForm{norm.NFC}}, nil
	case "NFKC":
		return []normalizer{unicodeForm{norm.NFKC}}, nil
	case "NFD":
		return []normalizer{unicodeForm{norm.NFD}}, nil
	case "NFKD":
		return []normalizer{unicodeForm{norm.NFKD}}, nil
	case "Lowercase":
		return []normalizer{lowercase{}}, nil
	case "Strip":
		return []normalizer{strip{left: n.StripLeft, right: n.StripRight}}, nil
	case "Prepend":
		return []normalizer{prepend{prefix: n.Prepend}}, nil
	case "Replace":
		r := replace{content: n.Content}
		switch {
		case n.Pattern != nil && n.Pattern.String != nil:
			r.literal = *n.Pattern.String
			if r.literal == "" {
				return nil, formatErr(file, "Replace normalizer with an empty pattern")
			}
		case n.Pattern != nil && n.Pattern.Regex != nil:
			if *n.Pattern.Regex == `\s+` && n.Content == " " {
				return []normalizer{collapseSpace{}}, nil
			}
			re, err := compileOnig(*n.Pattern.Regex)
			if err != nil {
				return nil, formatErr(file, "Replace pattern %q: %v", *n.Pattern.Regex, err)
			}
			r.re = re
		default:
			return nil, formatErr(file, "Replace normalizer without a pattern")
		}
		return []normalizer{r}, nil
	case "Precompiled":
		if n.Charsmap == nil || *n.Charsmap == "" {
			return nil, nil
		}
		blob, err := base64.StdEncoding.DecodeString(*n.Charsmap)
		if err != nil {
			return nil, formatErr(file, "precompiled_charsmap is not base64: %v", err)
		}
		pc, err := parsePrecompiled(file, blob)
		if err != nil {
			return nil, err
		}
		return []normalizer{pc}, nil
	}
	return nil, formatErr(file, "normalizer %q is not supported", n.Type)
}

func tjPreTokenizers(file string, n *tjNode) ([]preTokenizer, error) {
	if n == nil {
		return nil, nil
	}
	switch n.Type {
	case "Sequence":
		var out []preTokenizer
		for _, c := range n.PreTokenizers {
			ps, err := tjPreTokenizers(file, c)
			if err != nil {
				return nil, err
			}
			out = append(out, ps...)
		}
		return out, nil
	case "WhitespaceSplit":
		return []preTokenizer{whitespaceSplit{}}, nil
	case "Metaspace":
		split := n.Split == nil || *n.Split
		return []preTokenizer{metaspace{replacement: orDefault(n.Replacement, "▁"), scheme: parsePrependScheme(n), splitWords: split}}, nil
	case "ByteLevel":
		return []preTokenizer{byteLevel{
			addPrefixSpace: n.AddPrefixSpace != nil && *n.AddPrefixSpace,
			useRegex:       n.UseRegex == nil || *n.UseRegex,
		}}, nil
	case "Split":
		if n.Pattern != nil && n.Pattern.Regex != nil && *n.Pattern.Regex == clipPattern && n.Behavior == "Removed" && n.Invert {
			return []preTokenizer{clipSplit{}}, nil
		}
		rs := regexSplit{invert: n.Invert}
		switch n.Behavior {
		case "Removed":
			rs.behavior = splitRemoved
		case "Isolated":
			rs.behavior = splitIsolated
		case "MergedWithPrevious":
			rs.behavior = splitMergedWithPrevious
		case "MergedWithNext":
			rs.behavior = splitMergedWithNext
		default:
			return nil, formatErr(file, "Split behavior %q is not supported", n.Behavior)
		}
		pattern := ""
		switch {
		case n.Pattern != nil && n.Pattern.Regex != nil:
			pattern = *n.Pattern.Regex
		case n.Pattern != nil && n.Pattern.String != nil && *n.Pattern.String != "":
			pattern = regexpQuote(*n.Pattern.String)
		default:
			return nil, formatErr(file, "Split pre-tokenizer without a pattern")
		}
		re, err := compileOnig(pattern)
		if err != nil {
			return nil, formatErr(file, "Split pattern %q: %v", pattern, err)
		}
		rs.re = re
		return []preTokenizer{rs}, nil
	}
	return nil, formatErr(file, "pre-tokenizer %q is not supported", n.Type)
}

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// parsePrependScheme reads Metaspace's prepend_scheme, or the older
// add_prefix_space flag.
func parsePrependScheme(n *tjNode) prependScheme {
	switch n.PrependScheme {
	case "first":
		return prependFirst
	case "never":
		return prependNever
	case "always":
		return prependAlways
	}
	if n.AddPrefixSpace != nil && !*n.AddPrefixSpace {
		return prependNever
	}
	return prependAlways
}

// tjPostProcessor returns the special ids put around a single sequence.
func tjPostProcessor(file string, n *tjNode) (prefix, suffix []int, err error) {
	if n == nil {
		return nil, nil, nil
	}
	switch n.Type {
	case "Sequence":
		for _, c := range n.Processors {
			p, s, err := tjPostProcessor(file, c)
			if err != nil {
				return nil, nil, err
			}
			prefix, suffix = append(prefix, p...), append(suffix, s...)
		}
		return prefix, suffix, nil
	case "ByteLevel":
		return nil, nil, nil // only adjusts offsets
	case "RobertaProcessing", "BertProcessing":
		cls, err1 := tokenPairID(n.CLS)
		sep, err2 := tokenPairID(n.SEP)
		if err1 != nil || err2 != nil {
			return nil, nil, formatErr(file, "%s needs cls and sep as [token, id]", n.Type)
		}
		return []int{cls}, []int{sep}, nil
	case "TemplateProcessing":
		seen := false
		for _, item := range n.Single {
			if _, ok := item["Sequence"]; ok {
				seen = true
				continue
			}
			st, ok := item["SpecialToken"]
			if !ok {
				return nil, nil, formatErr(file, "TemplateProcessing item %v is not supported", item)
			}
			spec, ok := n.SpecialTokens[st.ID]
			if !ok {
				return nil, nil, formatErr(file, "TemplateProcessing names special token %q without ids", st.ID)
			}
			if seen {
				suffix = append(suffix, spec.IDs...)
			} else {
				prefix = append(prefix, spec.IDs...)
			}
		}
		return prefix, suffix, nil
	}
	return nil, nil, formatErr(file, "post-processor %q is not supported", n.Type)
}

func tokenPairID(pair []json.RawMessage) (int, error) {
	var id int
	if len(pair) != 2 {
		return 0, fmt.Errorf("want [token, id]")
	}
	if err := json.Unmarshal(pair[1], &id); err != nil {
		return 0, err
	}
	return id, nil
}
