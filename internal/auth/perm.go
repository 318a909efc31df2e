package auth

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// PermissionError is returned for a key or config file that others could
// read or change, as ssh refuses an unprotected private key.
type PermissionError struct {
	Path   string
	Reason string
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("auth: %s %s: refusing it, as ssh does (chmod 600 it, owned by the user who runs glimpse)", e.Path, e.Reason)
}

// CheckPrivateFile checks that path is a regular file (not a symbolic
// link) owned by this user or root, with none of the permission bits in
// forbidden (0o077: no access for group and others; 0o022|0o004: nobody
// else may write, others may not read).
func CheckPrivateFile(path string, forbidden fs.FileMode) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	return checkPrivate(path, fi, forbidden)
}

func checkPrivate(path string, fi fs.FileInfo, forbidden fs.FileMode) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return &PermissionError{Path: path, Reason: "is a symbolic link"}
	case !fi.Mode().IsRegular():
		return &PermissionError{Path: path, Reason: "is not a regular file"}
	case fi.Mode().Perm()&forbidden != 0:
		return &PermissionError{Path: path, Reason: fmt.Sprintf("has mode %04o: others may access it", fi.Mode().Perm())}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return &PermissionError{Path: path, Reason: fmt.Sprintf("is owned by uid %d, not by this user (%d) or root", st.Uid, os.Geteuid())}
	}
	return nil
}
