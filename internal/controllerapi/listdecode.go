package controllerapi

import (
	"encoding/json"
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
	d := decoder{data: data, depth: 1}
	if !raw {
		d.keys, d.strs = map[string]string{}, map[string]any{}
	}
	d.ws()
	if !d.consume('{') {
		return page, false
	}
	seen := map[string]bool{}
	for first := true; ; first = false {
		d.ws()
		if first && d.consume('}') {
			break
		}
		key, ok := d.key()
		if !ok || seen[key] {
			return page, false
		}
		seen[key] = true
		d.ws()
		if !d.consume(':') {
			return page, false
		}
		d.ws()
		switch key {
		case "apiVersion", "kind":
			if _, ok := d.value(); !ok {
				return page, false
			}
		case "metadata":
			if !d.metadata(&page) {
				return page, false
			}
		case "items":
			if page.Items, page.Raw, ok = d.items(raw); !ok {
				return page, false
			}
		default:
			return page, false
		}
		d.ws()
		if d.consume(',') {
			continue
		}
		if !d.consume('}') {
			return page, false
		}
		break
	}
	d.ws()
	return page, d.i == len(d.data)
}

// metadata reads {count, limit, offset}, each an integer, each once.
func (d *decoder) metadata(page *listPage) bool {
	if !d.consume('{') {
		return false
	}
	seen := map[string]bool{}
	for first := true; ; first = false {
		d.ws()
		if first && d.consume('}') {
			return true
		}
		key, ok := d.key()
		if !ok || seen[key] {
			return false
		}
		seen[key] = true
		d.ws()
		if !d.consume(':') {
			return false
		}
		d.ws()
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
		v, ok := d.number()
		n, isInt := v.(int64) // ParseInt took it: written as an integer
		if !ok || !isInt || int64(int(n)) != n {
			return false
		}
		*dst = int(n)
		d.ws()
		if d.consume(',') {
			continue
		}
		return d.consume('}')
	}
}

// items reads an array of objects: decoded, or with raw their text.
func (d *decoder) items(raw bool) ([]Object, []json.RawMessage, bool) {
	if !d.consume('[') {
		return nil, nil, false
	}
	d.depth++
	defer func() { d.depth-- }()
	var objs []Object
	var texts []json.RawMessage
	if raw {
		texts = []json.RawMessage{}
	} else {
		objs = []Object{}
	}
	d.ws()
	if d.consume(']') {
		return objs, texts, true
	}
	for {
		d.ws()
		if d.i >= len(d.data) || d.data[d.i] != '{' {
			return nil, nil, false
		}
		start := d.i
		if raw {
			if !d.skip() {
				return nil, nil, false
			}
			texts = append(texts, d.data[start:d.i])
		} else {
			v, ok := d.value()
			if !ok {
				return nil, nil, false
			}
			objs = append(objs, v.(map[string]any))
		}
		d.ws()
		if d.consume(',') {
			continue
		}
		if !d.consume(']') {
			return nil, nil, false
		}
		return objs, texts, true
	}
}
