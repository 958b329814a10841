package controllerapi

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/systemsync/systemsync/internal/jsontree"
)

// A full listing of the system is most of a cold plan's reading of the
// controller: encoding/json decodes each item into maps that grow as they
// fill, allocates every key and every string again, and boxes each
// number as a json.Number to be converted after. decodeList reads a list
// answer of the shape a controller writes in one pass instead: maps made
// at their size, keys and short strings shared within the answer, numbers
// read as spec.Normalize reads them. Anything else (another shape, a
// syntax error, a number neither an int64 nor a float64) is left to
// encoding/json, so the result, and any error, is what it always was.

// listPage is a list answer as List reads it.
type listPage struct {
	Metadata struct {
		Count  int `json:"count"`
		Limit  int `json:"limit"`
		Offset int `json:"offset"`
	} `json:"metadata"`
	Items []Object `json:"items"`
	// Raw is each item's JSON text, when the page is read undecoded.
	Raw []json.RawMessage `json:"-"`
}

// decodeList decodes a list answer. ok is false when the answer is not of
// the plain shape (an object of apiVersion, kind, metadata {count, limit,
// offset} and items, each at most once, items objects), or is not valid
// JSON: encoding/json then decodes it, with its errors.
func decodeList(data []byte) (page listPage, ok bool) { return readList(data, false) }

// readList is decodeList; with raw, the items are checked but not decoded,
// and page.Raw holds their text.
func readList(data []byte, raw bool) (page listPage, ok bool) {
	if len(data) == 0 {
		return page, false
	}
	d := jsontree.New(data, !raw)
	d.Nest() // the answer's own object
	d.WS()
	if !d.Consume('{') {
		return page, false
	}
	seen := map[string]bool{}
	for first := true; ; first = false {
		d.WS()
		if first && d.Consume('}') {
			break
		}
		key, ok := d.Key()
		if !ok || seen[key] {
			return page, false
		}
		seen[key] = true
		d.WS()
		if !d.Consume(':') {
			return page, false
		}
		d.WS()
		switch key {
		case "apiVersion", "kind":
			if _, ok := d.Value(); !ok {
				return page, false
			}
		case "metadata":
			if !readMetadata(d, &page) {
				return page, false
			}
		case "items":
			if page.Items, page.Raw, ok = readItems(d, raw); !ok {
				return page, false
			}
		default:
			return page, false
		}
		d.WS()
		if d.Consume(',') {
			continue
		}
		if !d.Consume('}') {
			return page, false
		}
		break
	}
	d.WS()
	return page, d.Done()
}

// metadata reads {count, limit, offset}, each an integer, each once.
func readMetadata(d *jsontree.Decoder, page *listPage) bool {
	if !d.Consume('{') {
		return false
	}
	seen := map[string]bool{}
	for first := true; ; first = false {
		d.WS()
		if first && d.Consume('}') {
			return true
		}
		key, ok := d.Key()
		if !ok || seen[key] {
			return false
		}
		seen[key] = true
		d.WS()
		if !d.Consume(':') {
			return false
		}
		d.WS()
		var dst *int
		switch key {
		case "count":
			dst = &page.Metadata.Count
		case "limit":
			dst = &page.Metadata.Limit
		case "offset":
			dst = &page.Metadata.Offset
		default:
			return false
		}
		v, ok := d.Number()
		n, isInt := v.(int64) // ParseInt took it: written as an integer
		if !ok || !isInt || int64(int(n)) != n {
			return false
		}
		*dst = int(n)
		d.WS()
		if d.Consume(',') {
			continue
		}
		return d.Consume('}')
	}
}

// items reads an array of objects: decoded, or with raw their text.
func readItems(d *jsontree.Decoder, raw bool) ([]Object, []json.RawMessage, bool) {
	if !d.Consume('[') {
		return nil, nil, false
	}
	d.Nest()
	defer d.Unnest()
	var objs []Object
	var texts []json.RawMessage
	if raw {
		texts = []json.RawMessage{}
	} else {
		objs = []Object{}
	}
	d.WS()
	if d.Consume(']') {
		return objs, texts, true
	}
	for {
		d.WS()
		if d.Peek() != '{' {
			return nil, nil, false
		}
		start := d.Pos()
		if raw {
			if !d.Skip() {
				return nil, nil, false
			}
			texts = append(texts, d.Since(start))
		} else {
			v, ok := d.Value()
			if !ok {
				return nil, nil, false
			}
			objs = append(objs, v.(map[string]any))
		}
		d.WS()
		if d.Consume(',') {
			continue
		}
		if !d.Consume(']') {
			return nil, nil, false
		}
		return objs, texts, true
	}
}

// decodeObject reads the JSON text of one item of a list answer as List
// reads it: numbers as spec.Normalize reads them, a null as an empty
// object.
func decodeObject(data []byte) (Object, error) {
	if obj, ok := jsontree.Object(data); ok {
		return obj, nil
	}
	var obj Object
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("decode object: %w", err)
	}
	if rest := bytes.TrimSpace(data[dec.InputOffset():]); len(rest) > 0 {
		return nil, fmt.Errorf("decode object: %d bytes after the object", len(rest))
	}
	if obj == nil {
		return Object{}, nil
	}
	numbersInPlace(obj)
	return obj, nil
}
