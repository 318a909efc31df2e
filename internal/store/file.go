package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// UnsafePathError is returned by Open for an SQLite path another user
// could redirect or read: a symbolic link, a file that is not a regular
// file of ours, or a directory others may write to without the sticky bit.
type UnsafePathError struct {
	Path   string // the file or directory refused
	Reason string
}

func (e *UnsafePathError) Error() string {
	return fmt.Sprintf("refusing %s: %s", e.Path, e.Reason)
}

// fileMode is the mode of a new SQLite file. SQLite gives its -wal and
// -shm files the database file's mode, so they are private too.
const fileMode = 0o600

// prepareFile checks abs, an SQLite database path, and its -wal and -shm
// companions, and creates the database file with fileMode, without
// following a symbolic link, if it does not exist yet. SQLite would
// otherwise create it following a planted symlink, with mode 0644.
func prepareFile(abs string) error {
	if err := checkDir(filepath.Dir(abs)); err != nil {
		return err
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, fileMode)
	if err == nil {
		return f.Close()
	}
	// O_EXCL also fails on a symlink, dangling or not: checkFile tells.
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	for _, p := range []string{abs, abs + "-wal", abs + "-shm"} {
		if err := checkFile(p); err != nil {
			return err
		}
	}
	return nil
}

// checkDir refuses a directory that users other than its owner may write
// to without the sticky bit: they could swap the file for a symlink.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return &UnsafePathError{Path: dir, Reason: fmt.Sprintf("directory is writable by others (mode %v) without the sticky bit", fi.Mode().Perm())}
	}
	return nil
}

// checkFile refuses an existing path that is a symbolic link, not a
// regular file, or owned by another user; a missing one is fine.
func checkFile(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		return &UnsafePathError{Path: path, Reason: "is a symbolic link"}
	case !fi.Mode().IsRegular():
		return &UnsafePathError{Path: path, Reason: "not a regular file"}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return &UnsafePathError{Path: path, Reason: fmt.Sprintf("owned by uid %d, not by this user (uid %d)", st.Uid, os.Geteuid())}
	}
	return nil
}
