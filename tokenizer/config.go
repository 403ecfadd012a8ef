package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// config is what tokenizer_config.json and special_tokens_map.json say
// about special tokens and lengths; empty strings mean "not given".
type config struct {
	bos, eos, pad, unk string
	maxLen             int
	extraIDs           int
	legacy             *bool
	additional         []string
	decoderTokens      []addedToken // added_tokens_decoder entries
}

// tokenField is a special token written either as a string or as an
// AddedToken object {"content": ...}.
type tokenField struct {
	content string
	tok     addedToken
}

func (t *tokenField) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &t.content)
	}
	if string(b) == "null" {
		return nil
	}
	var obj jsonAddedToken
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	t.content = obj.Content
	t.tok = obj.token(-1)
	return nil
}

type jsonAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

func (j jsonAddedToken) token(id int) addedToken {
	return addedToken{content: j.Content, id: id, special: j.Special, lstrip: j.LStrip, rstrip: j.RStrip}
}

type jsonConfig struct {
	BOS            *tokenField               `json:"bos_token"`
	EOS            *tokenField               `json:"eos_token"`
	Pad            *tokenField               `json:"pad_token"`
	Unk            *tokenField               `json:"unk_token"`
	ModelMaxLength *float64                  `json:"model_max_length"`
	ExtraIDs       *int                      `json:"extra_ids"`
	Legacy         *bool                     `json:"legacy"`
	Additional     []tokenField              `json:"additional_special_tokens"`
	AddedDecoder   map[string]jsonAddedToken `json:"added_tokens_decoder"`
}

// readConfig reads special_tokens_map.json then tokenizer_config.json from
// dir (both optional); the latter wins where both name a token, as in
// transformers.
func readConfig(dir string) (*config, error) {
	cfg := &config{}
	for _, name := range []string{"special_tokens_map.json", "tokenizer_config.json"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		var j jsonConfig
		if err := json.Unmarshal(data, &j); err != nil {
			return nil, formatErr(name, "invalid JSON: %v", err)
		}
		set := func(dst *string, f *tokenField) {
			if f != nil && f.content != "" {
				*dst = f.content
			}
		}
		set(&cfg.bos, j.BOS)
		set(&cfg.eos, j.EOS)
		set(&cfg.pad, j.Pad)
		set(&cfg.unk, j.Unk)
		if j.ModelMaxLength != nil {
			// transformers writes a huge sentinel (1e30) for "no limit".
			if m := *j.ModelMaxLength; m > 0 && m < math.MaxInt32 {
				cfg.maxLen = int(m)
			}
		}
		if j.ExtraIDs != nil {
			cfg.extraIDs = *j.ExtraIDs
		}
		if j.Legacy != nil {
			cfg.legacy = j.Legacy
		}
		for _, a := range j.Additional {
			if a.content != "" {
				cfg.additional = append(cfg.additional, a.content)
			}
		}
		for key, t := range j.AddedDecoder {
			id, err := strconv.Atoi(key)
			if err != nil || id < 0 {
				return nil, formatErr(name, "added_tokens_decoder key %q is not an id", key)
			}
			cfg.decoderTokens = append(cfg.decoderTokens, t.token(id))
		}
	}
	sort.Slice(cfg.decoderTokens, func(i, k int) bool { return cfg.decoderTokens[i].id < cfg.decoderTokens[k].id })
	return cfg, nil
}

// addedToken is a token matched verbatim in the raw text before
// normalization, like the special tokens of Hugging Face tokenizers.
type addedToken struct {
	content        string
	id             int
	special        bool
	lstrip, rstrip bool
}

// addedTokens splits text around added tokens, leftmost first and longest
// among those starting at the same place.
type addedTokens struct {
	tokens  []addedToken
	byFirst map[byte][]int // first byte -> indexes into tokens, longest first
}

func newAddedTokens(toks []addedToken) *addedTokens {
	a := &addedTokens{byFirst: map[byte][]int{}}
	seen := map[string]bool{}
	for _, t := range toks {
		if t.content == "" || seen[t.content] {
			continue
		}
		seen[t.content] = true
		a.tokens = append(a.tokens, t)
	}
	for i, t := range a.tokens {
		a.byFirst[t.content[0]] = append(a.byFirst[t.content[0]], i)
	}
	for _, list := range a.byFirst {
		sort.SliceStable(list, func(i, k int) bool {
			return len(a.tokens[list[i]].content) > len(a.tokens[list[k]].content)
		})
	}
	return a
}

// segment is a piece of the input: either text to tokenize (id < 0) or an
// added token.
type segment struct {
	text    string
	id      int
	atStart bool // the text starts at offset 0 of the input
}

func (a *addedTokens) split(text string) []segment {
	var segs []segment
	start := 0 // start of pending plain text
	for i := 0; i < len(text); i++ {
		cands := a.byFirst[text[i]]
		if len(cands) == 0 {
			continue
		}
		for _, c := range cands {
			t := a.tokens[c]
			if !strings.HasPrefix(text[i:], t.content) {
				continue
			}
			end := i + len(t.content)
			pending := text[start:i]
			if t.lstrip {
				pending = strings.TrimRightFunc(pending, unicode.IsSpace)
			}
			if pending != "" {
				segs = append(segs, segment{text: pending, id: -1, atStart: start == 0})
			}
			segs = append(segs, segment{id: t.id})
			if t.rstrip {
				end = len(text) - len(strings.TrimLeftFunc(text[end:], unicode.IsSpace))
			}
			start = end
			i = end - 1
			break
		}
	}
	if start < len(text) || len(segs) == 0 {
		segs = append(segs, segment{text: text[start:], id: -1, atStart: start == 0})
	}
	return segs
}
