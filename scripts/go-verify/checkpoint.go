package main

// Signed checkpoints: c2sp.org/tlog-checkpoint inside a c2sp.org/signed-note, signed
// by the log key (checked by x/mod's note.Open) and cosigned by the timestamp key
// (tlog-cosignature/v1, checked in keys.go).

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// maxFutureSkew is how far in the future a cosignature timestamp may be before it is
// rejected (tlog-cosignature: "verifiers MAY reject cosignatures with timestamps in
// the future").
const maxFutureSkew = 10 * time.Minute

// emptyRoot is the RFC 6962 hash of the empty tree, SHA-256("").
var emptyRoot = tlog.Hash(sha256.Sum256(nil))

// checkpoint is a verified checkpoint.
type checkpoint struct {
	Origin string
	Tree   tlog.Tree
	Time   uint64 // cosignature/v1 timestamp of the timestamp key
	Text   string // the note body (signed text)
}

// trust holds the keys an outsider brings: the log key and the timestamp key.
type trust struct {
	log note.Verifier
	ts  cosigner
	now func() time.Time
}

// openCheckpoint verifies a signed checkpoint: the log's Ed25519 note signature, the
// body's form, the origin (= log key name), and the timestamp key's cosignature.
func (tr *trust) openCheckpoint(msg []byte) (checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(tr.log))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return checkpoint{}, fmt.Errorf("checkpoint has no signature by log key %s+%08x", tr.log.Name(), tr.log.KeyHash())
		}
		return checkpoint{}, fmt.Errorf("checkpoint: note.Open: %v", err)
	}
	origin, tree, err := parseCheckpointBody(n.Text)
	if err != nil {
		return checkpoint{}, err
	}
	if origin != tr.log.Name() {
		return checkpoint{}, fmt.Errorf("checkpoint origin %q is not the log key name %q", origin, tr.log.Name())
	}
	t, err := cosignatureTime(tr.ts, n)
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint %d: %v", tree.N, err)
	}
	if now := tr.now(); time.Unix(int64(t), 0).After(now.Add(maxFutureSkew)) {
		return checkpoint{}, fmt.Errorf("checkpoint %d: cosignature time %d is in the future (now %d)", tree.N, t, now.Unix())
	}
	return checkpoint{Origin: origin, Tree: tree, Time: t, Text: n.Text}, nil
}

// parseCheckpointBody parses "origin\nsize\nbase64(root)\n[extension lines]".
func parseCheckpointBody(text string) (string, tlog.Tree, error) {
	if !strings.HasSuffix(text, "\n") {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint body does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint body has %d lines, want at least 3", len(lines))
	}
	for i, l := range lines[3:] {
		if l == "" {
			return "", tlog.Tree{}, fmt.Errorf("checkpoint extension line %d is empty", i+1)
		}
	}
	origin := lines[0]
	if origin == "" {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint origin is empty")
	}
	size, err := parseDecimal(lines[1])
	if err != nil {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint size %q: %v", lines[1], err)
	}
	root, err := parseHash(lines[2])
	if err != nil {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint root %q: %v", lines[2], err)
	}
	if size == 0 && root != emptyRoot {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint of size 0 has root %s, want SHA-256(\"\")", root)
	}
	return origin, tlog.Tree{N: size, Hash: root}, nil
}

// parseDecimal parses a non-negative ASCII decimal without leading zeros that fits an int64.
func parseDecimal(s string) (int64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("not a canonical decimal")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a canonical decimal")
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("out of range")
	}
	return n, nil
}

// parseHash decodes a canonical base64 SHA-256 hash.
func parseHash(s string) (tlog.Hash, error) {
	b, err := decodeBase64(s)
	if err != nil {
		return tlog.Hash{}, fmt.Errorf("bad base64: %v", err)
	}
	if len(b) != tlog.HashSize {
		return tlog.Hash{}, fmt.Errorf("%d bytes, want 32", len(b))
	}
	var h tlog.Hash
	copy(h[:], b)
	return h, nil
}
