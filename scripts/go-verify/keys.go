package main

// Verifier keys (C2SP signed-note "vkey" form) and tlog-cosignature/v1 checks.
//
// A vkey is `name+hex8+base64(type ‖ public key)`, where hex8 is the key ID:
// SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4] (c2sp.org/signed-note, "Verifier keys").
// Type 0x01 keys are Ed25519 note signers and go straight to x/mod's note.NewVerifier;
// type 0x04 keys are Ed25519 cosigners (c2sp.org/tlog-cosignature), whose signature
// lines the note package cannot check, so cosignatureTime checks them here.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

const (
	sigTypeEd25519     = 0x01 // signed-note Ed25519 signature
	sigTypeCosignature = 0x04 // tlog-cosignature/v1 Ed25519 timestamped signature
)

// vkey is a parsed verifier key of any signature type.
type vkey struct {
	name  string
	keyID uint32
	typ   byte
	pub   []byte
}

// parseVKey parses a vkey and checks that its key ID matches its name, type and key.
func parseVKey(s string) (vkey, error) {
	// The name and key ID hold no '+'; the base64 key may.
	parts := strings.SplitN(s, "+", 3)
	if len(parts) != 3 {
		return vkey{}, fmt.Errorf("vkey %q: want name+hex8+base64", s)
	}
	name, hex8, key64 := parts[0], parts[1], parts[2]
	if !validKeyName(name) {
		return vkey{}, fmt.Errorf("vkey %q: invalid key name", s)
	}
	if len(hex8) != 8 {
		return vkey{}, fmt.Errorf("vkey %q: key ID must be 8 hex digits", s)
	}
	id, err := strconv.ParseUint(hex8, 16, 32)
	if err != nil {
		return vkey{}, fmt.Errorf("vkey %q: bad key ID", s)
	}
	raw, err := decodeBase64(key64)
	if err != nil || len(raw) < 2 {
		return vkey{}, fmt.Errorf("vkey %q: bad base64 key", s)
	}
	if computed := keyID(name, raw); computed != uint32(id) {
		return vkey{}, fmt.Errorf("vkey %q: key ID %08x does not match the key (%08x)", s, id, computed)
	}
	return vkey{name: name, keyID: uint32(id), typ: raw[0], pub: raw[1:]}, nil
}

// keyID is SHA-256(name ‖ 0x0A ‖ typeAndKey)[:4] as a big-endian uint32.
func keyID(name string, typeAndKey []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n'})
	h.Write(typeAndKey)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// validKeyName mirrors the signed-note rule: non-empty, valid UTF-8, no spaces, no '+'.
func validKeyName(name string) bool {
	return name != "" && utf8.ValidString(name) &&
		strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// decodeBase64 decodes standard padded base64 and accepts only the canonical
// encoding (no stray newlines, no non-zero padding bits).
func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, err
	}
	if base64.StdEncoding.EncodeToString(b) != s {
		return nil, fmt.Errorf("non-canonical base64")
	}
	return b, nil
}

// logVerifier turns a type 0x01 vkey into x/mod's note.Verifier.
func logVerifier(s string) (note.Verifier, error) {
	k, err := parseVKey(s)
	if err != nil {
		return nil, err
	}
	if k.typ != sigTypeEd25519 {
		return nil, fmt.Errorf("log key %s: type 0x%02x, want 0x01 (Ed25519)", k.name, k.typ)
	}
	v, err := note.NewVerifier(s)
	if err != nil {
		return nil, fmt.Errorf("log key: note.NewVerifier: %v", err)
	}
	return v, nil
}

// cosigner is a tlog-cosignature/v1 Ed25519 key.
type cosigner struct {
	name  string
	keyID uint32
	pub   ed25519.PublicKey
}

// newCosigner parses a type 0x04 vkey.
func newCosigner(s string) (cosigner, error) {
	k, err := parseVKey(s)
	if err != nil {
		return cosigner{}, err
	}
	if k.typ != sigTypeCosignature {
		return cosigner{}, fmt.Errorf("timestamp key %s: type 0x%02x, want 0x04 (cosignature/v1)", k.name, k.typ)
	}
	if len(k.pub) != ed25519.PublicKeySize {
		return cosigner{}, fmt.Errorf("timestamp key %s: %d-byte public key, want 32", k.name, len(k.pub))
	}
	return cosigner{name: k.name, keyID: k.keyID, pub: ed25519.PublicKey(k.pub)}, nil
}

// cosignedMessage is the tlog-cosignature/v1 Ed25519 signed message:
// "cosignature/v1\n" ‖ "time <T>\n" ‖ checkpoint body.
func cosignedMessage(t uint64, body string) []byte {
	var b bytes.Buffer
	b.WriteString("cosignature/v1\ntime ")
	b.WriteString(strconv.FormatUint(t, 10))
	b.WriteString("\n")
	b.WriteString(body)
	return b.Bytes()
}

// cosignatureTime finds the single signature line of c among the note's lines that
// the note package could not verify, checks it, and returns its timestamp.
// The line is base64(keyID(4) ‖ u64be timestamp ‖ Ed25519 signature(64)).
func cosignatureTime(c cosigner, n *note.Note) (uint64, error) {
	var found []note.Signature
	for _, s := range n.UnverifiedSigs {
		if s.Name == c.name && s.Hash == c.keyID {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("no cosignature line from timestamp key %s+%08x", c.name, c.keyID)
	case 1:
	default:
		return 0, fmt.Errorf("%d different cosignature lines from timestamp key %s+%08x", len(found), c.name, c.keyID)
	}
	raw, err := decodeBase64(found[0].Base64)
	if err != nil {
		return 0, fmt.Errorf("cosignature %s: bad base64: %v", c.name, err)
	}
	if len(raw) != 4+8+ed25519.SignatureSize {
		return 0, fmt.Errorf("cosignature %s: %d bytes, want 76", c.name, len(raw))
	}
	t := binary.BigEndian.Uint64(raw[4:12])
	if t > 1<<63-1 {
		return 0, fmt.Errorf("cosignature %s: timestamp %d exceeds 2^63-1", c.name, t)
	}
	if !ed25519.Verify(c.pub, cosignedMessage(t, n.Text), raw[12:]) {
		return 0, fmt.Errorf("cosignature %s: invalid signature (time %d)", c.name, t)
	}
	return t, nil
}
