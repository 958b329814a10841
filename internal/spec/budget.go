package spec

import (
	"context"

	"golang.org/x/sync/semaphore"
)

// ParseBudgetBytes is how many bytes of spec input the process parses and
// checks at once, across every caller of Reserve: the loader's workers,
// the API's and the console's applies. Reading a resource costs memory in
// proportion to its input (up to a few hundred times it, within
// MaxNodes), so bounding the input in flight bounds that memory however
// many requests and runs arrive together. 16 MiB: four files at the size
// limit at once, twice what the two cores of the smallest machine parse.
const ParseBudgetBytes = 16 << 20

// parseBudget is the process's one budget: a limit of the whole process
// is what it bounds, so it is the one value of this package that is not
// passed in.
var parseBudget = semaphore.NewWeighted(ParseBudgetBytes)

// Reserve waits until n more bytes of input may be parsed in the process
// (n over ParseBudgetBytes waits for all of it) and returns the function
// that gives them back, to call once the parsed resource is no longer
// held. It fails only when ctx ends first. Callers hold one reservation at
// a time: never call Reserve while holding one.
func Reserve(ctx context.Context, n int) (release func(), err error) {
	w := int64(min(max(n, 1), ParseBudgetBytes))
	if err := parseBudget.Acquire(ctx, w); err != nil {
		return nil, err
	}
	return func() { parseBudget.Release(w) }, nil
}
