package webhook_test

import (
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glimpse-go/glimpse/internal/testenv"
	"github.com/glimpse-go/glimpse/webhook"
)

// TestPythonReceiverFromDocs runs the Python receiver of
// docs/WEBHOOKS.md as written (its secret file and port changed): it
// accepts signed POST and GET calls and refuses a tampered body and a
// call signed with another secret.
func TestPythonReceiverFromDocs(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	ctx := testenv.Context(t)
	code := pythonBlock(t)
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, append(secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(testenv.FreePort(t))
	code = strings.Replace(code, "/etc/glimpse/webhook.secret", secretFile, 1)
	code = strings.Replace(code, `("127.0.0.1", 9099)`, `("127.0.0.1", `+port+`)`, 1)
	cmd := exec.Command(python, "-c", code)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "127.0.0.1:" + port
	testenv.Eventually(t, ctx, "the Python receiver listening", func() (bool, error) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil, nil
	})

	good := newClient(t, webhook.Config{Secret: secret})
	resp, err := good.Deliver(ctx, webhook.Request{URL: "http://" + addr + "/worker", Params: map[string][]string{"foo": {"bar"}}, TaskID: "t-1"})
	if err != nil || string(resp.Body) != "done" {
		t.Errorf("a signed POST: %+v, %v", resp, err)
	}
	if _, err := good.Deliver(ctx, webhook.Request{URL: "http://" + addr + "/worker", Method: "GET", Params: map[string][]string{"a": {"1 2"}}}); err != nil {
		t.Errorf("a signed GET: %v", err)
	}
	other := newClient(t, webhook.Config{Secret: []byte("another secret, also 32 bytes...")})
	var se *webhook.StatusError
	if _, err := other.Deliver(ctx, webhook.Request{URL: "http://" + addr + "/worker"}); !errors.As(err, &se) || se.Status != 401 {
		t.Errorf("another secret: %v, want 401", err)
	}
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/worker", strings.NewReader("foo=baz"))
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, time.Now(), []byte("foo=bar")))
	tampered, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	tampered.Body.Close()
	if tampered.StatusCode != 401 {
		t.Errorf("a tampered body: %d, want 401", tampered.StatusCode)
	}
}

// pythonBlock returns the ```python block of docs/WEBHOOKS.md.
func pythonBlock(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/WEBHOOKS.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```python\n")
	code, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/WEBHOOKS.md has no ```python block")
	}
	return code
}
