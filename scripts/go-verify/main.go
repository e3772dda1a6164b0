// Command go-verify is an outside verifier for a dojang ledger, written only against
// the public specs (c2sp.org signed-note, tlog-checkpoint, tlog-cosignature,
// tlog-tiles, tlog-proof; RFC 9162) and Go's golang.org/x/mod/sumdb/tlog and note.
//
// Usage:
//
//	go-verify --url URL --log-key VKEY --timestamp-key VKEY [--proofs N] [--seed S]
//	          [--max-consistency N] [--parallel N] [--timeout D] [--json]
//	go-verify --self-test
//	go-verify --serve-fixture ADDR [--entries N]
//
// It verifies the latest checkpoint (log signature with note.Open, the timestamp key's
// cosignature/v1 line by hand), every hash tile through tlog.TileHashReader, every
// entry bundle against the level-0 hashes with tlog.RecordHash, N random tlog-proof
// inclusion bundles with tlog.CheckRecord, and the checkpoint history with
// tlog.CheckTree. It prints one summary line and exits 0 only if everything holds;
// otherwise it prints "go-verify: FAIL: <reason>" on stderr and exits 1 (2 for usage).
//
// --self-test builds logs with x/mod's own tlog functions and note signer, serves them
// over loopback HTTP, and checks that the verifier accepts them and rejects each of a
// list of corruptions. --serve-fixture serves such a log for manual experiments.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	os.Exit(realMain(os.Args[1:]))
}

func realMain(args []string) int {
	fs := flag.NewFlagSet("go-verify", flag.ContinueOnError)
	var cfg config
	fs.StringVar(&cfg.URL, "url", "", "base URL of the log (serving /checkpoint, /tile/..., /v1/...)")
	fs.StringVar(&cfg.LogKey, "log-key", "", "log verifier key (vkey, type 0x01)")
	fs.StringVar(&cfg.TimestampKey, "timestamp-key", "", "timestamp cosigner key (vkey, type 0x04)")
	fs.IntVar(&cfg.Proofs, "proofs", 32, "number of inclusion proofs to check (first, last, then random)")
	seed := fs.Int64("seed", 0, "random seed for proof and sample choices (0: from the clock)")
	fs.IntVar(&cfg.MaxConsistency, "max-consistency", 2000, "most consistency proofs of each kind to check (0: all)")
	fs.IntVar(&cfg.Parallel, "parallel", 8, "concurrent requests")
	fs.DurationVar(&cfg.Timeout, "timeout", 60*time.Second, "timeout of one request")
	fs.BoolVar(&cfg.Static, "static", false, "the log is static files (a mirror): check only /checkpoint, the tiles and the entry bundles")
	asJSON := fs.Bool("json", false, "print the summary as one line of JSON")
	cosigned := fs.String("cosigned", "", "check one checkpoint note in this file: the --log-key signature and the cosignature/v1 of --witness-key")
	witnessKey := fs.String("witness-key", "", "witness verifier key (vkey, type 0x04) for --cosigned")
	selfTest := fs.Bool("self-test", false, "run the built-in fixture tests and exit")
	serve := fs.String("serve-fixture", "", "serve a fixture log at this address (e.g. 127.0.0.1:8089) until killed")
	entries := fs.Int("entries", 1000, "fixture size for --serve-fixture")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "go-verify: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *selfTest {
		return runSelfTest(os.Stdout)
	}
	if *serve != "" {
		return serveFixture(*serve, *entries)
	}
	if *cosigned != "" {
		return checkCosigned(*cosigned, cfg.LogKey, *witnessKey)
	}
	if cfg.URL == "" || cfg.LogKey == "" || cfg.TimestampKey == "" {
		fmt.Fprintln(os.Stderr, "go-verify: --url, --log-key and --timestamp-key are required (or --self-test)")
		return 2
	}
	cfg.Seed = *seed
	if cfg.Seed == 0 {
		cfg.Seed = time.Now().UnixNano()
	}
	s, err := run(context.Background(), cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-verify: FAIL: %v\n", err)
		return 1
	}
	if *asJSON {
		b, _ := json.Marshal(s)
		fmt.Println(string(b))
	} else {
		fmt.Println("go-verify: " + s.line())
	}
	return 0
}

// checkCosigned opens one checkpoint note with Go's note package under the log key and
// checks the witness's cosignature/v1 line on it with crypto/ed25519: an outside check
// of the cosignatures dojang's witness makes.
func checkCosigned(path, logKey, witnessKey string) int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "go-verify: FAIL: %v\n", err)
		return 1
	}
	msg, err := os.ReadFile(path)
	if err != nil {
		return fail(err)
	}
	lv, err := logVerifier(logKey)
	if err != nil {
		return fail(err)
	}
	w, err := newCosigner(witnessKey)
	if err != nil {
		return fail(err)
	}
	tr := &trust{log: lv, ts: w, now: time.Now}
	cp, err := tr.openCheckpoint(msg)
	if err != nil {
		return fail(err)
	}
	fmt.Printf("go-verify: cosigned: %s size %d by %s at %d\n", cp.Origin, cp.Tree.N, w.name, cp.Time)
	return 0
}
