package tokenizer_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagegen/imagegen/tokenizer"
)

// writeExampleCLIP writes a tiny CLIP tokenizer folder: the byte-level
// alphabet for "a cat", two merges and the special tokens.
func writeExampleCLIP(dir string) error {
	vocab := `{"a": 0, "c": 1, "t": 2, "a</w>": 3, "c</w>": 4, "t</w>": 5, "ca": 6, "cat</w>": 7,
	"<|startoftext|>": 8, "<|endoftext|>": 9, "!": 10}`
	merges := "#version: 0.2\nc a\nca t</w>\n"
	config := `{"model_max_length": 8, "pad_token": "!"}`
	for name, body := range map[string]string{"vocab.json": vocab, "merges.txt": merges, "tokenizer_config.json": config} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func ExampleLoad() {
	dir, err := os.MkdirTemp("", "clip")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := writeExampleCLIP(dir); err != nil {
		fmt.Println(err)
		return
	}

	tok, err := tokenizer.Load(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := tok.Encode("A  CAT")
	fmt.Println(ids, tok.Tokens(ids))
	fmt.Println(tok.EncodePadded("a cat", 0)) // 0: model_max_length
	fmt.Printf("%q\n", tok.Decode(ids))
	// Output:
	// [8 3 7 9] [<|startoftext|> a</w> cat</w> <|endoftext|>]
	// [8 3 7 9 10 10 10 10]
	// "a cat"
}

func ExampleLoad_missingFiles() {
	dir, err := os.MkdirTemp("", "empty")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "vocab.json"), []byte(`{"a": 0}`), 0o644); err != nil {
		fmt.Println(err)
		return
	}
	_, err = tokenizer.Load(dir)
	fmt.Println(err)
	// Output:
	// tokenizer: merges.txt: missing (vocab.json needs merges.txt beside it)
}
