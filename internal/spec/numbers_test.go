package spec

import (
	"strings"
	"testing"
)

// A number no int64 or float64 holds as written is refused with its line
// and field, from YAML (a Git file, a YAML body) and from JSON bodies
// alike; quoted, it is text.
func TestNumbersHeldAsWrittenOrRefused(t *testing.T) {
	for _, tc := range []struct{ value, message string }{
		{"1e400", "the number 1e400 is beyond the range of a 64-bit float"},
		{"-1e400", "beyond the range of a 64-bit float"},
		{"123456789012345678901234567890", "the integer 123456789012345678901234567890 is beyond the 64-bit range"},
		{"9223372036854775808", "the integer 9223372036854775808 is beyond the 64-bit range"},
		{"0.1000000000000000000001", "has more digits than a 64-bit float holds (it would become 0.1)"},
		{"1e-400", "(it would become 0)"},
		{".inf", "is not a finite number"},
		{"-.Inf", "is not a finite number"},
		{".nan", "is not a finite number"},
	} {
		yml := "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: n\nspec:\n  quota:\n    limits:\n    - " + tc.value + "\n"
		rs, probs := Parse("f.yaml", []byte(yml))
		if len(rs) != 0 || len(probs) != 1 || probs[0].Line != 8 || probs[0].Field != "spec.quota.limits[0]" || !strings.Contains(probs[0].Message, tc.message) || !strings.Contains(probs[0].Message, "quote it") {
			t.Errorf("YAML %s: %v, want line 8 spec.quota.limits[0]: %s", tc.value, probs, tc.message)
		}
		if r, probs := ParseBody("application/yaml", []byte(yml)); r != nil || len(probs) != 1 || probs[0].Line != 8 {
			t.Errorf("YAML body %s: %v", tc.value, probs)
		}
		if rs, probs := Parse("f.yaml", []byte(strings.Replace(yml, "- "+tc.value, "- \""+tc.value+"\"", 1))); len(probs) != 0 || rs[0].Object["spec"].(map[string]any)["quota"].(map[string]any)["limits"].([]any)[0] != tc.value {
			t.Errorf("quoted %s: %v", tc.value, probs)
		}
		if strings.HasPrefix(strings.TrimLeft(tc.value, "-"), ".") {
			continue // no JSON number
		}
		js := "{\"apiVersion\": \"infra.k8smgmt.io/v3\", \"kind\": \"Namespace\",\n \"metadata\": {\"name\": \"n\"},\n \"spec\": {\"quota\": {\"limits\": [1, " + tc.value + "]}}}"
		r, probs := ParseBody("application/json", []byte(js))
		if r != nil || len(probs) != 1 || probs[0].Line != 3 || probs[0].Field != "spec.quota.limits[1]" || !strings.Contains(probs[0].Message, tc.message) {
			t.Errorf("JSON %s: %v, want line 3 spec.quota.limits[1]: %s", tc.value, probs, tc.message)
		}
	}
}

// Numbers a float64 or int64 holds as written come through YAML and JSON,
// and are written back, with the same value.
func TestNumbersKeepTheirExactValue(t *testing.T) {
	for _, v := range []string{"0", "-0", "42", "9223372036854775807", "-9223372036854775808", "9007199254740993", "0.1", "1.10",
		"1e21", "2.5e-10", "1.7976931348623157e308", "5e-324", "0.30000000000000004"} {
		yml := "spec:\n  n: " + v + "\n"
		rs, probs := Parse("f.yaml", []byte(yml))
		if len(probs) != 0 {
			t.Errorf("YAML %s refused: %v", v, probs)
			continue
		}
		r, probs := ParseBody("application/json", []byte(`{"spec":{"n":`+v+`}}`))
		if len(probs) != 0 {
			t.Errorf("JSON %s refused: %v", v, probs)
			continue
		}
		if !Equal(rs[0].Object, r.Object) {
			t.Errorf("%s: YAML gives %v, JSON %v", v, rs[0].Object, r.Object)
		}
		out, err := Render(rs[0].Object)
		if err != nil {
			t.Fatal(err)
		}
		back, probs := Parse("f.yaml", out)
		if len(probs) != 0 || !Equal(back[0].Object, rs[0].Object) {
			t.Errorf("%s rendered as %q reads back as %v %v", v, out, back, probs)
		}
		data, _ := AppendCanonicalJSON(nil, r.Object)
		if b, probs := ParseBody("application/json", data); len(probs) != 0 || !Equal(b.Object, r.Object) {
			t.Errorf("%s as canonical JSON %s reads back as %v %v", v, data, b, probs)
		}
	}
}

// Text that is not UTF-8 is refused where it is, never replaced.
func TestInvalidUTF8IsRefused(t *testing.T) {
	yml := "apiVersion: infra.k8smgmt.io/v3\nkind: Namespace\nmetadata:\n  name: n\n  description: caf\xe9 latin-1\n"
	_, probs := Parse("f.yaml", []byte(yml))
	if len(probs) != 1 || probs[0].File != "f.yaml" || probs[0].Line != 5 || !strings.Contains(probs[0].Message, "invalid UTF-8: byte 0xe9 at column 19") {
		t.Errorf("YAML: %v", probs)
	}
	if _, probs := ParseBody("application/yaml", []byte(yml)); len(probs) != 1 || probs[0].Line != 5 {
		t.Errorf("YAML body: %v", probs)
	}
	for body, field := range map[string]string{
		"{\"metadata\": {\"name\": \"n\",\n \"description\": \"caf\xe9\"}}":   "metadata.description",
		"{\"metadata\": {\"name\": \"n\",\n \"labels\": {\"k\xff\": \"v\"}}}": "metadata.labels",
		"{\"metadata\": {\"name\": \"n\",\n \"description\": \"\\ud83d\"}}":   "metadata.description",
	} {
		r, probs := ParseBody("application/json", []byte(body))
		if r != nil || len(probs) != 1 || probs[0].Line != 2 || probs[0].Field != field || !strings.Contains(probs[0].Message, "the string") {
			t.Errorf("JSON %q: %v, want line 2 %s", body, probs, field)
		}
	}
}
