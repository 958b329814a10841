package controllerapi

import (
	"reflect"
	"strings"
	"testing"
)

// decodeListSlow is how List read an answer before decodeList.
func decodeListSlow(data []byte) (listPage, error) {
	var page listPage
	if err := decodeJSON(data, &page); err != nil {
		return page, err
	}
	for i, it := range page.Items {
		if it == nil {
			page.Items[i] = Object{}
			continue
		}
		numbersInPlace(it)
	}
	return page, nil
}

// checkDecodeList: when decodeList takes an answer, it reads exactly what
// encoding/json does; it reports whether it took it.
func checkDecodeList(t *testing.T, data string) bool {
	t.Helper()
	got, ok := decodeList([]byte(data))
	if !ok {
		return false
	}
	want, err := decodeListSlow([]byte(data))
	if err != nil {
		t.Fatalf("%.200q: decodeList took it, encoding/json says %v", data, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%.200q:\n got %#v\nwant %#v", data, got, want)
	}
	return true
}

const item = `{"apiVersion":"infra.k8smgmt.io/v3","kind":"Namespace","metadata":{"name":"a","project":"p","resourceVersion":"7"},"spec":{"n":[0,-1,1.5,-2.5e-9,1e+21,9223372036854775807,-9223372036854775808,9007199254740993,1e308,5e-324,{"x":null,"t":true,"f":false}],"s":"plain"}}`

var listAnswers = []string{
	`{"apiVersion":"infra.k8smgmt.io/v3","items":[` + item + `,` + item + `],"kind":"NamespaceList","metadata":{"count":2,"limit":100,"offset":0}}` + "\n",
	` { "kind" : "NamespaceList" , "metadata" : { "offset" : 5 , "count" : -3 , "limit" : 0 } , "items" : [ ] , "apiVersion" : [1, {"a": "b"}] } `,
	`{"items":[]}`,
	`{}`,
	`{"items":[{}]}`,
	`{"items":[{"s":"esc \" \\ \/ \b \f \n \r \t \u0000 \u001F \u00e9 \u00E9 \u2028 \ud83d\ude00 \ud83d \ude00 \ud83dx \ud83d\u0041 \uDFFF\uD800 end"}]}`,
	`{"items":[{"s":"utf8 é 世界 🎉 ` + "\xff bad \xc3 \xe2\x82 \xed\xa0\x80 surrogate-in-utf8" + ` end"}]}`,
	`{"items":[{"` + "k\xffey" + `":1,"k\u00e9":2,"ké":3}]}`,
	`{"items":[{"a":1,"a":2,"b":{"c":1,"c":{"d":[]}}}]}`,
	`{"items":[{"n":-0,"m":-0.0,"o":0e0,"p":1E2,"q":1e-400,"r":1e400}]}`,
	`{"items":[{"n":1e400}]}`,
	`{"items":[{"deep":` + strings.Repeat(`[`, 9997) + strings.Repeat(`]`, 9997) + `}]}`,
	`{"items":[{"deep":` + strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001) + `}]}`,
	`{"items":[null]}`,
	`{"items":null}`,
	`{"items":[1]}`,
	`{"items":{}}`,
	`{"Items":[{}]}`,
	`{"ITEMS":[{}],"items":[{"a":1}]}`,
	`{"items":[{"a":1}],"items":[{"b":2}]}`,
	`{"metadata":{"count":1.0}}`,
	`{"metadata":{"count":1e2}}`,
	`{"metadata":{"count":"1"}}`,
	`{"metadata":{"count":99999999999999999999}}`,
	`{"metadata":{"count":1,"count":2}}`,
	`{"metadata":{"Count":1}}`,
	`{"metadata":{"total":1}}`,
	`{"metadata":null}`,
	`{"metadata":[]}`,
	`{"other":1}`,
	`{"items":[]} trailing`,
	`{"items":[]}{"items":[{}]}`,
	`{"items":[{"a":01}]}`,
	`{"items":[{"a":1.}]}`,
	`{"items":[{"a":.5}]}`,
	`{"items":[{"a":-}]}`,
	`{"items":[{"a":+1}]}`,
	`{"items":[{"a":1e}]}`,
	`{"items":[{"a":tru}]}`,
	`{"items":[{"a":nul}]}`,
	`{"items":[{"a":"\x"}]}`,
	`{"items":[{"a":"\u12"}]}`,
	`{"items":[{"a":"\u12g4"}]}`,
	`{"items":[{"a":"\'"}]}`,
	"{\"items\":[{\"a\":\"tab\there\"}]}",
	`{"items":[{"a":"open}]}`,
	`{"items":[{"a" 1}]}`,
	`{"items":[{"a":1,}]}`,
	`{"items":[{"a":1}],}`,
	`{"items":[{"a":[1,]}]}`,
	`{"items":[{1:2}]}`,
	`{"items":[{"a":1}]`,
	`{"items":[`,
	`[]`,
	`""`,
	``,
	` `,
}

func TestDecodeListReadsWhatEncodingJSONReads(t *testing.T) {
	took := 0
	for _, a := range listAnswers {
		if checkDecodeList(t, a) {
			took++
		}
	}
	if took < 7 {
		t.Fatalf("decodeList took only %d answers", took)
	}
	for i, a := range listAnswers[:12] { // every plain answer, escapes and deep nesting included
		// left to encoding/json: half surrogate pairs (5), text that is not UTF-8 (6, 7) and 1e400 (9, 10), which
		// jsontree does not hold as written (encoding/json replaces them, Normalize reads 1e400 as a string)
		if _, ok := decodeList([]byte(a)); !ok && i != 5 && i != 6 && i != 7 && i != 9 && i != 10 {
			t.Errorf("decodeList left a plain answer to encoding/json: %.100q", a)
		}
	}
}

// checkListJSON: the items readListed gives, each read by Object, are the
// items List reads, and the count its count; an answer List refuses is
// refused.
func checkListJSON(t *testing.T, data string) {
	t.Helper()
	want, wantErr := decodeListSlow([]byte(data))
	items, count, err := readListed([]byte(data))
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%.200q: error %v, List gives %v", data, err, wantErr)
	}
	if err != nil {
		return
	}
	if count != want.Metadata.Count || len(items) != len(want.Items) {
		t.Fatalf("%.200q: %d items of %d, want %d of %d", data, len(items), count, len(want.Items), want.Metadata.Count)
	}
	for i, it := range items {
		obj, err := it.Object()
		if err != nil {
			t.Fatalf("%.200q: item %d %q: %v", data, i, it.text, err)
		}
		if !reflect.DeepEqual(obj, want.Items[i]) {
			t.Fatalf("%.200q: item %d:\n got %#v\nwant %#v", data, i, obj, want.Items[i])
		}
	}
}

func TestListJSONReadsWhatListReads(t *testing.T) {
	for _, a := range listAnswers {
		checkListJSON(t, a)
	}
	for i, a := range listAnswers[:12] {
		if _, ok := readList([]byte(a), true); !ok && i != 5 && i != 6 && i != 7 { // as in TestDecodeListReadsWhatEncodingJSONReads
			t.Errorf("answer %d read by encoding/json: %.100q", i, a)
		}
	}
}

func TestDecodeObjectReadsOneItem(t *testing.T) {
	for _, c := range []struct {
		text string
		ok   bool
	}{
		{`{"a":1}`, true}, {` {"a":[1.5,"x"]} `, true}, {`null`, true}, {`{"n":1e400}`, true},
		{`{"a":1} x`, false}, {`{"a":1}{}`, false}, {`[1]`, false}, {`"s"`, false}, {``, false}, {`{"a":}`, false},
	} {
		obj, err := decodeObject([]byte(c.text))
		if (err == nil) != c.ok {
			t.Errorf("decodeObject(%q) = %v, %v", c.text, obj, err)
		}
	}
}

func FuzzDecodeList(f *testing.F) {
	for _, a := range listAnswers {
		if len(a) < 2000 {
			f.Add(a)
		}
	}
	f.Fuzz(func(t *testing.T, data string) {
		checkDecodeList(t, data)
		checkListJSON(t, data)
	})
}
