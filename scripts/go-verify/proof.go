package main

// c2sp.org/tlog-proof@v1 bundles:
//
//	c2sp.org/tlog-proof@v1
//	[extra <base64>]
//	index <decimal>
//	<base64 hash>           zero or more: the RFC 6962 §2.1.1 audit path, leaf's sibling first
//	<empty line>
//	<signed checkpoint, verbatim>

import (
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

const tlogProofHeader = "c2sp.org/tlog-proof@v1"

// tlogProof is a parsed, not yet verified, tlog-proof bundle.
type tlogProof struct {
	Extra      []byte
	Index      int64
	Proof      tlog.RecordProof
	Checkpoint []byte
}

// parseTLogProof parses a tlog-proof@v1 bundle strictly.
func parseTLogProof(b []byte) (tlogProof, error) {
	s := string(b)
	var p tlogProof
	line, rest, ok := cutLine(s)
	if !ok || line != tlogProofHeader {
		return p, fmt.Errorf("tlog-proof: first line is not %q", tlogProofHeader)
	}
	line, rest, ok = cutLine(rest)
	if ok && strings.HasPrefix(line, "extra ") {
		extra, err := decodeBase64(strings.TrimPrefix(line, "extra "))
		if err != nil {
			return p, fmt.Errorf("tlog-proof: bad extra line: %v", err)
		}
		p.Extra = extra
		line, rest, ok = cutLine(rest)
	}
	if !ok || !strings.HasPrefix(line, "index ") {
		return p, fmt.Errorf("tlog-proof: missing index line")
	}
	idx, err := parseDecimal(strings.TrimPrefix(line, "index "))
	if err != nil {
		return p, fmt.Errorf("tlog-proof: index %q: %v", line, err)
	}
	p.Index = idx
	p.Proof = tlog.RecordProof{}
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return p, fmt.Errorf("tlog-proof: no empty line before the checkpoint")
		}
		if line == "" {
			break
		}
		if len(p.Proof) >= 64 {
			return p, fmt.Errorf("tlog-proof: more than 63 proof hashes")
		}
		h, err := parseHash(line)
		if err != nil {
			return p, fmt.Errorf("tlog-proof: proof hash %d: %v", len(p.Proof), err)
		}
		p.Proof = append(p.Proof, h)
	}
	if rest == "" {
		return p, fmt.Errorf("tlog-proof: no checkpoint")
	}
	p.Checkpoint = []byte(rest)
	return p, nil
}

// cutLine splits s at its first newline; ok is false when there is none.
func cutLine(s string) (line, rest string, ok bool) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}
