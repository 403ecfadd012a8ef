package schedulers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Parsing of scheduler_config.json the way diffusers' from_config reads it:
// the file's keys, minus those it lists in _use_default_values, over the
// defaults of the chosen class; keys the class does not accept are ignored.

// ParseConfig decodes a scheduler_config.json. class selects the scheduler
// class ("" = the file's _class_name); keys present in the file and known
// to that class are kept, every other key takes the class's default, as
// diffusers' SchedulerClass.from_config(config) does. Python's Infinity,
// -Infinity and NaN are accepted. The result is validated.
func ParseConfig(data []byte, class string) (*Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(sanitizePythonJSON(data), &raw); err != nil {
		return nil, fmt.Errorf("%w: scheduler_config.json: %v", ErrInvalidConfig, err)
	}
	if class == "" {
		name, ok := raw["_class_name"]
		if !ok {
			return nil, fmt.Errorf("%w: scheduler_config.json has no _class_name", ErrInvalidConfig)
		}
		if err := json.Unmarshal(name, &class); err != nil {
			return nil, fmt.Errorf("%w: _class_name: %v", ErrInvalidConfig, err)
		}
	}
	c, err := DefaultConfig(class)
	if err != nil {
		return nil, err
	}
	var useDefaults []string
	if v, ok := raw["_use_default_values"]; ok {
		if err := json.Unmarshal(v, &useDefaults); err != nil {
			return nil, fmt.Errorf("%w: _use_default_values: %v", ErrInvalidConfig, err)
		}
	}
	known, _ := classKeys(class)
	for k, v := range raw {
		if _, ok := known[k]; !ok || contains(useDefaults, k) {
			continue
		}
		if err := setKey(c, k, v); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidConfig, class, err)
		}
	}
	normalize(c)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Set applies one override to c. The value is read as JSON when it parses
// as JSON (true, 1.5, [], null, -Infinity) and as a plain string otherwise,
// so "timestep_spacing", "trailing" works. A key the class does not accept
// of no scheduler class gives ErrUnknownOption; a key of another class is
// ignored. Set does not validate; call Validate after the
// last change.
func (c *Config) Set(key, value string) error {
	known, err := classKeys(c.ClassName)
	if err != nil {
		return err
	}
	if _, ok := known[key]; !ok {
		if otherClassKnows(key) {
			// A key of another diffusers scheduler (skip_prk_steps given to
			// Euler, say) is carried and ignored, as diffusers' from_config
			// does: configs copied between schedulers keep working.
			return nil
		}
		return fmt.Errorf("%w: %s does not accept %q", ErrUnknownOption, c.ClassName, key)
	}
	raw := sanitizePythonJSON([]byte(strings.TrimSpace(value)))
	if !json.Valid(raw) {
		raw, _ = json.Marshal(value)
	}
	if err := setKey(c, key, raw); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidConfig, c.ClassName, err)
	}
	normalize(c)
	return nil
}

// ApplyOverrides applies "key=value" overrides in order (see Set) and
// validates the result.
func (c *Config) ApplyOverrides(overrides []string) error {
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("%w: override %q is not key=value", ErrInvalidConfig, o)
		}
		if err := c.Set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
			return err
		}
	}
	return c.Validate()
}

// normalize applies the silent renames diffusers' constructors make, so
// that a config written for one multistep solver works for the other.
func normalize(c *Config) {
	switch c.ClassName {
	case ClassDPMSolverMultistep:
		if c.AlgorithmType == "deis" {
			c.AlgorithmType = "dpmsolver++"
		}
		switch c.SolverType {
		case "logrho", "bh1", "bh2":
			c.SolverType = "midpoint"
		}
	case ClassUniPCMultistep:
		switch c.SolverType {
		case "midpoint", "heun", "logrho":
			c.SolverType = "bh2"
		}
	}
}

// sanitizePythonJSON rewrites the bare tokens Infinity, -Infinity and NaN
// that Python's json module writes into the strings "Infinity",
// "-Infinity" and "NaN", which setKey accepts for number fields. Text
// inside strings is left alone.
func sanitizePythonJSON(data []byte) []byte {
	if !bytes.Contains(data, []byte("Infinity")) && !bytes.Contains(data, []byte("NaN")) {
		return data
	}
	var out bytes.Buffer
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		ch := data[i]
		if inString {
			out.WriteByte(ch)
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
			continue
		}
		if ch == '"' {
			inString = true
			out.WriteByte(ch)
			continue
		}
		replaced := false
		for _, tok := range []string{"-Infinity", "Infinity", "NaN"} {
			if bytes.HasPrefix(data[i:], []byte(tok)) {
				out.WriteString(`"` + tok + `"`)
				i += len(tok) - 1
				replaced = true
				break
			}
		}
		if !replaced {
			out.WriteByte(ch)
		}
	}
	return out.Bytes()
}

var (
	fieldsOnce sync.Once
	fieldIndex map[string]int // json key -> Config field index
)

func configField(key string) (int, bool) {
	fieldsOnce.Do(func() {
		fieldIndex = map[string]int{}
		t := reflect.TypeOf(Config{})
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name != "" && name != "-" {
				fieldIndex[name] = i
			}
		}
	})
	i, ok := fieldIndex[key]
	return i, ok
}

// setKey decodes one JSON value into the Config field tagged key. null
// clears optional (pointer and slice) fields and leaves the class default
// in place for the others, as a None argument would in most of diffusers.
func setKey(c *Config, key string, raw json.RawMessage) error {
	idx, ok := configField(key)
	if !ok {
		return fmt.Errorf("no config field for key %q", key)
	}
	f := reflect.ValueOf(c).Elem().Field(idx)
	isNull := bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
	if isNull {
		switch f.Kind() {
		case reflect.Pointer, reflect.Slice:
			f.SetZero()
		}
		return nil
	}
	var err error
	switch f.Kind() {
	case reflect.Float64:
		var v float64
		if v, err = decodeFloat(raw); err == nil {
			f.SetFloat(v)
		}
	case reflect.Int:
		var v float64
		if v, err = decodeFloat(raw); err == nil {
			if v != math.Trunc(v) || math.IsInf(v, 0) || math.Abs(v) > 1<<40 {
				err = fmt.Errorf("not an integer: %v", v)
			} else {
				f.SetInt(int64(v))
			}
		}
	case reflect.Bool:
		var v bool
		if err = json.Unmarshal(raw, &v); err == nil {
			f.SetBool(v)
		}
	case reflect.String:
		var v string
		if err = json.Unmarshal(raw, &v); err == nil {
			f.SetString(v)
		}
	case reflect.Pointer:
		p := reflect.New(f.Type().Elem())
		switch f.Type().Elem().Kind() {
		case reflect.Float64:
			var v float64
			if v, err = decodeFloat(raw); err == nil {
				p.Elem().SetFloat(v)
			}
		default:
			err = json.Unmarshal(raw, p.Interface())
		}
		if err == nil {
			f.Set(p)
		}
	case reflect.Slice:
		var items []json.RawMessage
		if err = json.Unmarshal(raw, &items); err == nil {
			s := reflect.MakeSlice(f.Type(), len(items), len(items))
			for i, it := range items {
				var v float64
				if v, err = decodeFloat(it); err != nil {
					break
				}
				if f.Type().Elem().Kind() == reflect.Int {
					if v != math.Trunc(v) {
						err = fmt.Errorf("not an integer: %v", v)
						break
					}
					s.Index(i).SetInt(int64(v))
				} else {
					s.Index(i).SetFloat(v)
				}
			}
			if err == nil {
				f.Set(s)
			}
		}
	default:
		err = fmt.Errorf("unsupported field kind %s", f.Kind())
	}
	if err != nil {
		return fmt.Errorf("key %s: %v", key, err)
	}
	return nil
}

// decodeFloat reads a JSON number or one of the strings sanitizePythonJSON
// produces.
func decodeFloat(raw json.RawMessage) (float64, error) {
	var v float64
	if err := json.Unmarshal(raw, &v); err == nil {
		return v, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("want a number, got %s", raw)
	}
	switch s {
	case "Infinity", "inf":
		return math.Inf(1), nil
	case "-Infinity", "-inf":
		return math.Inf(-1), nil
	case "NaN", "nan":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("want a number, got %q", s)
	}
	return v, nil
}

// otherClassKnows reports whether some scheduler class has key.
func otherClassKnows(key string) bool {
	for _, class := range Classes() {
		if known, err := classKeys(class); err == nil {
			if _, ok := known[key]; ok {
				return true
			}
		}
	}
	return false
}
