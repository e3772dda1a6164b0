package main

// HTTP access to the log, and a bounded worker pool.

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxBody bounds any response: a full entry bundle is at most 256 × (2 + 65535) bytes.
const maxBody = 256*(2+65535) + 1<<20

// client fetches log resources below a URL prefix.
type client struct {
	base     string
	http     *http.Client
	ctx      context.Context
	requests atomic.Int64
	bytes    atomic.Int64
}

func newClient(ctx context.Context, base string, timeout time.Duration) *client {
	return &client{
		base: strings.TrimSuffix(base, "/"),
		http: &http.Client{
			Timeout:   timeout,
			Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: false},
		},
		ctx: ctx,
	}
}

// get fetches path and returns its body; any status but 200 is an error.
// wantType, when set, is the media type the response must declare.
func (c *client) get(path, wantType string) ([]byte, error) {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	c.requests.Add(1)
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading body: %v", path, err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("GET %s: body larger than %d bytes", path, maxBody)
	}
	c.bytes.Add(int64(len(body)))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d: %s", path, resp.StatusCode, firstLine(body))
	}
	if wantType != "" && !mediaTypeMatches(resp.Header.Get("Content-Type"), wantType) {
		return nil, fmt.Errorf("GET %s: Content-Type %q, want %q", path, resp.Header.Get("Content-Type"), wantType)
	}
	return body, nil
}

// mediaTypeMatches reports whether the Content-Type got has want's media type and
// every parameter of want (case-insensitive values, as for charset).
func mediaTypeMatches(got, want string) bool {
	gt, gp, err := mime.ParseMediaType(got)
	if err != nil {
		return false
	}
	wt, wp, err := mime.ParseMediaType(want)
	if err != nil {
		panic(err)
	}
	if gt != wt {
		return false
	}
	for k, v := range wp {
		if !strings.EqualFold(gp[k], v) {
			return false
		}
	}
	return true
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// parallel runs fn(0..n-1) on up to workers goroutines and returns the first error;
// after an error no new calls start.
func parallel(n, workers int, fn func(i int) error) error {
	if workers < 1 {
		workers = 1
	}
	var (
		next     atomic.Int64
		failed   atomic.Bool
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	for w := 0; w < workers && w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := safeCall(fn, i); err != nil {
					once.Do(func() { firstErr = err })
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// safeCall turns a panic in fn into an error, so that a hostile input that trips a
// library's internal check fails the run with a reason instead of a crash.
func safeCall(fn func(int) error, i int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn(i)
}
