package launcher

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/mesoproject/meso/api/mesospb"
)

// DefaultPath is the PATH a command gets when its environment sets none:
// the host default path Mesos uses on POSIX systems.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Errors callers branch on. A launch that fails with any of them is the
// framework's mistake or a missing program: the agent reports it as
// TASK_FAILED with REASON_CONTAINER_LAUNCH_FAILED.
var (
	// ErrInvalidCommand: the CommandInfo is missing or malformed.
	ErrInvalidCommand = errors.New("launcher: invalid command")
	// ErrUnsupported: the CommandInfo asks for something we do not do
	// (SECRET environment variables).
	ErrUnsupported = errors.New("launcher: unsupported")
	// ErrNotFound: a shell=false program was not found or is not executable.
	ErrNotFound = errors.New("launcher: executable not found")
	// ErrUnknownUser: the user to run as does not exist on this host.
	ErrUnknownUser = errors.New("launcher: unknown user")
	// ErrNotRoot: switching to another user needs root; we are not.
	ErrNotRoot = errors.New("launcher: switching user requires root")
)

// Command builds the process for ci, to run in dir with env (KEY=VALUE)
// under the CommandInfo's environment variables. The result has its own
// process group; stdin, stdout and stderr are left for the caller to set
// (nil means /dev/null). ci.User is not applied: see SetUser.
func Command(ci *mesospb.CommandInfo, dir string, env []string) (*exec.Cmd, error) {
	if ci == nil {
		return nil, fmt.Errorf("%w: no command", ErrInvalidCommand)
	}
	vars, err := commandEnv(ci.GetEnvironment())
	if err != nil {
		return nil, err
	}
	env = MergeEnv(env, vars)
	if _, ok := lookupEnv(env, "PATH"); !ok {
		env = append(env, "PATH="+DefaultPath)
	}
	var path string
	var argv []string
	if ci.GetShell() {
		if ci.Value == nil {
			return nil, fmt.Errorf("%w: shell command has no value", ErrInvalidCommand)
		}
		path, argv = "/bin/sh", []string{"sh", "-c", ci.GetValue()}
	} else {
		if ci.GetValue() == "" {
			return nil, fmt.Errorf("%w: executable (value) is not specified", ErrInvalidCommand)
		}
		pathEnv, _ := lookupEnv(env, "PATH")
		if path, err = findProgram(ci.GetValue(), pathEnv, dir); err != nil {
			return nil, err
		}
		argv = ci.GetArguments()
		if len(argv) == 0 {
			argv = []string{ci.GetValue()}
		}
	}
	return &exec.Cmd{
		Path:        path,
		Args:        slices.Clone(argv),
		Env:         env,
		Dir:         dir,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}, nil
}

// commandEnv turns CommandInfo environment variables into KEY=VALUE pairs.
func commandEnv(e *mesospb.Environment) ([]string, error) {
	var out []string
	for _, v := range e.GetVariables() {
		name := v.GetName()
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return nil, fmt.Errorf("%w: environment variable name %q", ErrInvalidCommand, name)
		}
		switch v.GetType() {
		case mesospb.Environment_Variable_VALUE:
			if v.Value == nil {
				return nil, fmt.Errorf("%w: environment variable %q of type VALUE has no value", ErrInvalidCommand, name)
			}
			out = append(out, name+"="+v.GetValue())
		case mesospb.Environment_Variable_SECRET:
			return nil, fmt.Errorf("%w: environment variable %q is a SECRET", ErrUnsupported, name)
		default:
			return nil, fmt.Errorf("%w: environment variable %q has type %v", ErrInvalidCommand, name, v.GetType())
		}
	}
	return out, nil
}

// findProgram resolves a shell=false program the way execvp in the child
// would: names with '/' as they are (relative to dir), others through PATH.
func findProgram(name, pathEnv, dir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := executable(p); err != nil {
			return "", fmt.Errorf("%w: %q: %v", ErrNotFound, name, err)
		}
		return name, nil
	}
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, name)
		if !filepath.IsAbs(d) {
			p = filepath.Join(dir, p)
		}
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %q in PATH %q", ErrNotFound, name, pathEnv)
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return errors.New("is a directory")
	}
	if st.Mode()&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}

// MergeEnv lays KEY=VALUE lists over each other: a later layer's value wins,
// and each key appears once, at its first position. Entries without '='
// are dropped.
func MergeEnv(layers ...[]string) []string {
	index := map[string]int{}
	var out []string
	for _, layer := range layers {
		for _, kv := range layer {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				continue
			}
			if i, seen := index[k]; seen {
				out[i] = kv
				continue
			}
			index[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// NoSwitchUserEnv is set to "1" in the environment of the built-in
// executors when the agent runs with --switch_user=false: they then run
// tasks as themselves, whatever CommandInfo.user says.
const NoSwitchUserEnv = "MESO_NO_SWITCH_USER"

// SetUser makes cmd run as the named user (uid, primary gid and
// supplementary groups). The user must exist (ErrUnknownUser). Without root
// only our own user is possible: naming another returns ErrNotRoot and
// leaves cmd unchanged, and the caller decides whether to go on (the posix
// containerizer logs and runs the command as itself).
func SetUser(cmd *exec.Cmd, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrUnknownUser, name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("%w: %q: non-numeric ids: %v", ErrUnknownUser, name, err)
	}
	euid := os.Geteuid()
	if euid != 0 {
		if uint64(euid) == uid {
			return nil
		}
		return fmt.Errorf("%w: cannot run as %q (uid %d) from uid %d", ErrNotRoot, name, uid, euid)
	}
	var groups []uint32
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				groups = append(groups, uint32(n))
			}
		}
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}
	return nil
}
