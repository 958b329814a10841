package spec

import (
	"encoding/base64"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/systemsync/systemsync/internal/jsontree"
)

// scalarValue converts a scalar node to its Go value using the tag the
// parser resolved (or resolving it when the node has none). A number it
// cannot hold as written comes out as checkedScalarValue leaves it.
func scalarValue(n *yaml.Node) any {
	v, _ := checkedScalarValue(n)
	return v
}

// checkedScalarValue is scalarValue, with why a number cannot be held as
// written (see numberMessage): "" when it can, or is no number.
func checkedScalarValue(n *yaml.Node) (any, string) {
	tag := n.Tag
	if tag == "" || tag == "!" {
		if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			return n.Value, ""
		}
		tag = resolveTag(n.Value)
	} else if strings.HasPrefix(tag, "tag:yaml.org,2002:") {
		tag = "!!" + strings.TrimPrefix(tag, "tag:yaml.org,2002:")
	}
	in := n.Value
	switch tag {
	case "!!str":
		if n.Style == 0 && in != "" && yamlStyleFloat.MatchString(strings.ReplaceAll(in, "_", "")) {
			return in, numberMessage(in) // a plain float yaml.v3 left a string: out of range
		}
		return in, ""
	case "!!timestamp", "!!merge":
		return in, ""
	case "!!null":
		return nil, ""
	case "!!bool":
		switch in {
		case "true", "True", "TRUE":
			return true, ""
		case "false", "False", "FALSE":
			return false, ""
		}
	case "!!int":
		if v, ok := parseYAMLInt(in); ok {
			if f, inexact := v.(float64); inexact { // beyond int64
				return f, numberMessage(in)
			}
			return v, ""
		}
	case "!!float":
		if v, ok := parseYAMLFloat(in); ok {
			if text := strings.ReplaceAll(in, "_", ""); !jsontree.Exact(text, v) {
				return v, numberMessage(in)
			}
			return v, ""
		}
		if plain := strings.ReplaceAll(in, "_", ""); yamlStyleFloat.MatchString(plain) {
			return in, numberMessage(in) // out of range
		}
		if v, ok := parseYAMLInt(in); ok {
			if i, isInt := v.(int64); isInt {
				return float64(i), ""
			}
			return v, numberMessage(in)
		}
	case "!!binary":
		if b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(in), "")); err == nil {
			return string(b), ""
		}
	}
	return in, ""
}

var yamlStyleFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// parseYAMLInt parses an integer as yaml.v3 does (underscores, 0x, 0o,
// 0b, legacy 0777 octals). Integers beyond int64 become float64.
func parseYAMLInt(in string) (any, bool) {
	plain := strings.ReplaceAll(in, "_", "")
	if v, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return v, true
	}
	if v, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return float64(v), true
	}
	neg := strings.HasPrefix(plain, "-")
	digits := strings.TrimPrefix(strings.TrimPrefix(plain, "-"), "+")
	for _, p := range []struct {
		prefix string
		base   int
	}{{"0b", 2}, {"0o", 8}} {
		if strings.HasPrefix(digits, p.prefix) {
			if v, err := strconv.ParseInt(digits[2:], p.base, 64); err == nil {
				if neg {
					v = -v
				}
				return v, true
			}
		}
	}
	return nil, false
}

// parseYAMLFloat parses a float as yaml.v3 does, including .inf and .nan.
func parseYAMLFloat(in string) (float64, bool) {
	switch in {
	case ".nan", ".NaN", ".NAN":
		return math.NaN(), true
	case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
		return math.Inf(1), true
	case "-.inf", "-.Inf", "-.INF":
		return math.Inf(-1), true
	}
	if v, err := strconv.ParseFloat(in, 64); err == nil {
		return v, true
	}
	plain := strings.ReplaceAll(in, "_", "")
	if yamlStyleFloat.MatchString(plain) {
		if v, err := strconv.ParseFloat(plain, 64); err == nil {
			return v, true
		}
	}
	return 0, false
}

// resolveTag returns the tag yaml.v3 gives a plain scalar.
func resolveTag(in string) string {
	switch in {
	case "", "~", "null", "Null", "NULL":
		return "!!null"
	case "true", "True", "TRUE", "false", "False", "FALSE":
		return "!!bool"
	case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
		return "!!float"
	case "<<":
		return "!!merge"
	}
	c := in[0]
	if c != '+' && c != '-' && c != '.' && (c < '0' || c > '9') {
		return "!!str"
	}
	if c != '.' && looksLikeTimestamp(in) {
		return "!!timestamp"
	}
	if c == '.' {
		if _, err := strconv.ParseFloat(in, 64); err == nil {
			return "!!float"
		}
		return "!!str"
	}
	plain := strings.ReplaceAll(in, "_", "")
	if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return "!!int"
	}
	if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return "!!int"
	}
	if yamlStyleFloat.MatchString(plain) {
		return "!!float"
	}
	if _, ok := parseYAMLInt(in); ok {
		return "!!int"
	}
	return "!!str"
}

var timestampFormats = []string{
	"2006-1-2T15:4:5.999999999Z07:00",
	"2006-1-2t15:4:5.999999999Z07:00",
	"2006-1-2 15:4:5.999999999",
	"2006-1-2",
}

// looksLikeTimestamp reports whether yaml.v3 would read s as a timestamp.
func looksLikeTimestamp(s string) bool {
	if len(s) < 5 || s[4] != '-' {
		return false
	}
	for i := 0; i < 4; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	for _, f := range timestampFormats {
		if _, err := time.Parse(f, s); err == nil {
			return true
		}
	}
	return false
}
