package spec

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/systemsync/systemsync/internal/jsontree"
)

// Numbers and text are held exactly as written, or refused.
//
// A number is held as an int64 or a float64, the types every part of the
// bot (and Rafay's API, a Go service reading JSON through protobuf, whose
// numbers are int64 or double) works with. One that neither holds as
// written is refused, naming its line and field, rather than stored
// otherwise: 1e400 (beyond float64: protobuf refuses it, and it was
// stored as the string "1e400"), an integer beyond int64 (it lost its
// last digits as a float64, and Rafay's API refuses it in an integer
// field or rounds it in a free-form one, so its digits would come back
// changed), a decimal with more digits than a float64 holds, and YAML's
// .inf and .nan (no JSON holds them). Quoting keeps any of them as text.

// maxShownNumber bounds how much of a number a message repeats.
const maxShownNumber = 40

// numberMessage says why the number text (YAML or JSON) cannot be held as
// written, and what to do.
func numberMessage(text string) string {
	shown := text
	if len(shown) > maxShownNumber {
		shown = shown[:maxShownNumber] + "…"
	}
	plain := strings.TrimLeft(strings.ReplaceAll(text, "_", ""), "+-")
	switch lower := strings.ToLower(plain); {
	case lower == ".inf" || lower == ".nan":
		return fmt.Sprintf("%s is not a finite number, which JSON and the API cannot hold: quote it to keep it as text", shown)
	case !strings.ContainsAny(plain, ".eE") || strings.HasPrefix(lower, "0x") || strings.HasPrefix(lower, "0o") || strings.HasPrefix(lower, "0b"):
		return fmt.Sprintf("the integer %s is beyond the 64-bit range (±%d) numbers are held in: quote it to keep it as text", shown, int64(math.MaxInt64))
	}
	f, _ := strconv.ParseFloat(strings.ReplaceAll(text, "_", ""), 64)
	if math.IsInf(f, 0) {
		return fmt.Sprintf("the number %s is beyond the range of a 64-bit float (±1.8e308), as Rafay's API refuses it too: quote it to keep it as text", shown)
	}
	return fmt.Sprintf("the number %s has more digits than a 64-bit float holds (it would become %s): write it with fewer, or quote it to keep it as text",
		shown, strconv.FormatFloat(f, 'g', -1, 64))
}

// jsonFaultProblem is the Problem of a JSON body's value that the tree
// cannot hold as written.
func jsonFaultProblem(body []byte, f *jsontree.Fault) Problem {
	p := Problem{Line: 1 + bytes.Count(body[:f.Offset], []byte("\n")), Field: pathText(f.Path)}
	if f.Number != "" {
		p.Message = numberMessage(f.Number)
	} else {
		p.Message = "the string " + f.String + ": send UTF-8 text, never replaced"
	}
	return p
}

// utf8Problem finds the first byte of data that is not UTF-8 (a UTF-16 or
// UTF-32 text, which YAML allows, marked by its byte order mark, is left to
// the YAML reader), as a Problem with its line and column.
func utf8Problem(file string, data []byte) (Problem, bool) {
	if utf8.Valid(data) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) || bytes.HasPrefix(data, []byte{0xFF, 0xFE}) {
		return Problem{}, false
	}
	i := 0
	for i < len(data) {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	lineStart := bytes.LastIndexByte(data[:i], '\n') + 1
	col := utf8.RuneCount(data[lineStart:i]) + 1
	return Problem{File: file, Line: 1 + bytes.Count(data[:i], []byte("\n")),
		Message: fmt.Sprintf("invalid UTF-8: byte 0x%02x at column %d is not text; a spec is UTF-8, never replaced", data[i], col)}, true
}
