//go:build unix

package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// lockProcess takes path's flock without waiting and records id in it,
// returning the ID recorded there before: a process that is gone, since
// the kernel releases the lock of a process that ends. When another live
// process holds the lock, it returns no file and no previous ID.
func lockProcess(path, id string) (*os.File, string, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("open process lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, "", nil // another live process shares the folder
		}
		return nil, "", fmt.Errorf("lock %s: %w", path, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, 256))
	if err == nil {
		err = f.Truncate(0)
	}
	if err == nil {
		_, err = f.WriteAt([]byte(id+"\n"), 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("record process in %s: %w", path, err)
	}
	return f, strings.TrimSpace(string(data)), nil
}
