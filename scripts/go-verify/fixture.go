package main

// A fixture log for --self-test and --serve-fixture, built only with x/mod's own
// functions (tlog.StoredHashes, tlog.TreeHash, tlog.ReadTileData, tlog.ProveRecord,
// tlog.ProveTree, note.Sign), served over HTTP with the same endpoints as dojang's
// API. A mutation can rewrite any response body to play a misbehaving log.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	mrand "math/rand"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// fixtureTime is the cosignature time of the fixture's first checkpoint.
const fixtureTime = 1_700_000_000

type fixture struct {
	origin    string
	logSigner note.Signer
	logVKey   string
	tsName    string
	tsPriv    ed25519.PrivateKey
	tsVKey    string
	rootVKey  string

	entries [][]byte
	stored  []tlog.Hash
	sizes   []int64          // published sizes, ascending; the last is len(entries)
	notes   map[int64][]byte // signed checkpoint for each published size
	times   map[int64]uint64

	pageLimit int
	mutate    func(f *fixture, path string, body []byte) []byte
}

// newFixture builds a log of n entries published in random batches.
func newFixture(seed int64, n int, maxEntry int, maxBatch int) (*fixture, error) {
	rng := mrand.New(mrand.NewSource(seed))
	f := &fixture{
		origin:    "fixture.example/log",
		tsName:    "fixture.example/timestamp",
		notes:     map[int64][]byte{},
		times:     map[int64]uint64{},
		pageLimit: 7,
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, f.origin)
	if err != nil {
		return nil, err
	}
	if f.logSigner, err = note.NewSigner(skey); err != nil {
		return nil, err
	}
	f.logVKey = vkey
	_, f.tsPriv, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	f.tsVKey = cosignerVKey(f.tsName, f.tsPriv.Public().(ed25519.PublicKey))
	if _, f.rootVKey, err = note.GenerateKey(rand.Reader, "fixture.example/root"); err != nil {
		return nil, err
	}

	hr := tlog.HashReaderFunc(f.readHashes)
	for i := 0; i < n; i++ {
		size := 1 + rng.Intn(maxEntry)
		if i == 5 {
			size = 0 // an empty entry is legal in a bundle
		}
		e := make([]byte, size)
		rng.Read(e)
		hashes, err := tlog.StoredHashes(int64(i), e, hr)
		if err != nil {
			return nil, err
		}
		f.entries = append(f.entries, e)
		f.stored = append(f.stored, hashes...)
	}
	t := uint64(fixtureTime)
	for size := int64(0); size < int64(n); {
		size += 1 + rng.Int63n(int64(maxBatch))
		if size > int64(n) {
			size = int64(n)
		}
		f.sizes = append(f.sizes, size)
		f.notes[size] = f.signCheckpoint(f.checkpointBody(f.origin, size, f.root(size)), t)
		f.times[size] = t
		t += uint64(rng.Intn(3))
	}
	return f, nil
}

// cosignerVKey encodes an Ed25519 cosigner key as a type 0x04 vkey.
func cosignerVKey(name string, pub ed25519.PublicKey) string {
	raw := append([]byte{sigTypeCosignature}, pub...)
	return fmt.Sprintf("%s+%08x+%s", name, keyID(name, raw), base64.StdEncoding.EncodeToString(raw))
}

func (f *fixture) readHashes(ix []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ix))
	for i, x := range ix {
		if x < 0 || x >= int64(len(f.stored)) {
			return nil, fmt.Errorf("fixture: stored hash %d out of range", x)
		}
		out[i] = f.stored[x]
	}
	return out, nil
}

func (f *fixture) size() int64 { return f.sizes[len(f.sizes)-1] }

func (f *fixture) root(size int64) tlog.Hash {
	if size == 0 {
		return emptyRoot
	}
	h, err := tlog.TreeHash(size, tlog.HashReaderFunc(f.readHashes))
	if err != nil {
		panic(err)
	}
	return h
}

func (f *fixture) checkpointBody(origin string, size int64, root tlog.Hash) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root[:]))
}

// signCheckpoint signs body with the log key (note.Sign) and appends a
// cosignature/v1 line from the timestamp key for time t.
func (f *fixture) signCheckpoint(body string, t uint64) []byte {
	msg, err := note.Sign(&note.Note{Text: body}, f.logSigner)
	if err != nil {
		panic(err)
	}
	return append(msg, f.cosignatureLine(body, t)...)
}

func (f *fixture) cosignatureLine(body string, t uint64) string {
	raw := append([]byte{sigTypeCosignature}, f.tsPriv.Public().(ed25519.PublicKey)...)
	sig := make([]byte, 12, 76)
	binary.BigEndian.PutUint32(sig, keyID(f.tsName, raw))
	binary.BigEndian.PutUint64(sig[4:], t)
	sig = append(sig, ed25519.Sign(f.tsPriv, cosignedMessage(t, body))...)
	return "— " + f.tsName + " " + base64.StdEncoding.EncodeToString(sig) + "\n"
}

// ServeHTTP answers the dojang read API from the fixture.
func (f *fixture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ctype, status := f.respond(r)
	if f.mutate != nil && status == http.StatusOK {
		body = f.mutate(f, r.URL.RequestURI(), body)
	}
	if body == nil {
		status, body, ctype = http.StatusNotFound, []byte("not found\n"), "text/plain; charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	w.Write(body)
}

func (f *fixture) respond(r *http.Request) ([]byte, string, int) {
	const octets, text, js = "application/octet-stream", "text/plain; charset=utf-8", "application/json; charset=utf-8"
	bad := func(msg string) ([]byte, string, int) { return []byte(msg + "\n"), text, http.StatusBadRequest }
	p := r.URL.Path
	q := r.URL.Query()
	n := f.size()
	hr := tlog.HashReaderFunc(f.readHashes)
	switch {
	case p == "/checkpoint":
		return f.notes[n], text, http.StatusOK

	case p == "/v1/log":
		b, _ := json.Marshal(map[string]string{
			"origin": f.origin, "logKey": f.logVKey, "timestampKey": f.tsVKey,
			"statusKey": f.rootVKey, "rootKey": f.rootVKey,
		})
		return b, js, http.StatusOK

	case strings.HasPrefix(p, "/tile/"):
		goPath := "tile/8/" + strings.TrimPrefix(p, "/tile/")
		if strings.HasPrefix(p, "/tile/entries/") {
			goPath = "tile/8/data/" + strings.TrimPrefix(p, "/tile/entries/")
		}
		t, err := tlog.ParseTilePath(goPath)
		if err != nil || tilePath(t) != p {
			return nil, "", http.StatusNotFound
		}
		if t.L == -1 {
			start := t.N << 8
			if start+int64(t.W) > n {
				return nil, "", http.StatusNotFound
			}
			var b bytes.Buffer
			for _, e := range f.entries[start : start+int64(t.W)] {
				b.Write([]byte{byte(len(e) >> 8), byte(len(e))})
				b.Write(e)
			}
			return b.Bytes(), octets, http.StatusOK
		}
		if t.N<<8+int64(t.W) > n>>(8*uint(t.L)) {
			return nil, "", http.StatusNotFound
		}
		data, err := tlog.ReadTileData(t, hr)
		if err != nil {
			return nil, "", http.StatusNotFound
		}
		return data, octets, http.StatusOK

	case strings.HasPrefix(p, "/v1/entries/") && strings.HasSuffix(p, "/proof"):
		i, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(p, "/v1/entries/"), "/proof"), 10, 64)
		if err != nil || i < 0 || i >= n {
			return nil, "", http.StatusNotFound
		}
		proof, err := tlog.ProveRecord(n, i, hr)
		if err != nil {
			return bad(err.Error())
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s\nindex %d\n", tlogProofHeader, i)
		for _, h := range proof {
			fmt.Fprintf(&b, "%s\n", base64.StdEncoding.EncodeToString(h[:]))
		}
		b.WriteString("\n")
		b.Write(f.notes[n])
		return b.Bytes(), text, http.StatusOK

	case p == "/v1/proofs/consistency":
		from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
		to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
		if err1 != nil || err2 != nil || from < 1 || from > to || to > n {
			return bad("bad from/to")
		}
		proof, err := tlog.ProveTree(to, from, hr)
		if err != nil {
			return bad(err.Error())
		}
		list := []string{}
		for _, h := range proof {
			list = append(list, base64.StdEncoding.EncodeToString(h[:]))
		}
		b, _ := json.Marshal(map[string]interface{}{"from": from, "to": to, "proof": list})
		return b, js, http.StatusOK

	case p == "/v1/checkpoints":
		from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
		limit, err2 := strconv.Atoi(q.Get("limit"))
		if err1 != nil || err2 != nil || from < 0 || limit < 1 {
			return bad("bad from/limit")
		}
		if limit > f.pageLimit {
			limit = f.pageLimit
		}
		at := sort.Search(len(f.sizes), func(i int) bool { return f.sizes[i] >= from })
		type item struct {
			Size       int64  `json:"size"`
			Checkpoint string `json:"checkpoint"`
		}
		items := []item{}
		for _, s := range f.sizes[at:] {
			if len(items) == limit {
				break
			}
			items = append(items, item{s, string(f.notes[s])})
		}
		var next *int64
		if at+len(items) < len(f.sizes) {
			next = &f.sizes[at+len(items)]
		}
		b, _ := json.Marshal(map[string]interface{}{"checkpoints": items, "next": next})
		return b, js, http.StatusOK
	}
	return nil, "", http.StatusNotFound
}

// serveFixture serves a fixture log until the process is killed.
func serveFixture(addr string, n int) int {
	f, err := newFixture(1, n, 300, 300)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-verify: fixture: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-verify: %v\n", err)
		return 1
	}
	fmt.Printf("fixture: listening on http://%s size %d\nlog-key %s\ntimestamp-key %s\n", ln.Addr(), f.size(), f.logVKey, f.tsVKey)
	if err := http.Serve(ln, f); err != nil {
		fmt.Fprintf(os.Stderr, "go-verify: %v\n", err)
		return 1
	}
	return 0
}
