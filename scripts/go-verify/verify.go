package main

// The verification run: everything an outsider can check about the log from its
// public endpoints, with x/mod's tlog and note doing the Merkle and signature work.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// config is what the command line sets.
type config struct {
	URL            string
	LogKey         string // vkey, type 0x01
	TimestampKey   string // vkey, type 0x04
	Proofs         int    // random inclusion proofs to check
	Seed           int64
	MaxConsistency int // cap on consistency proofs of each kind (consecutive, to latest)
	Parallel       int
	Timeout        time.Duration
	Now            func() time.Time
	// Static: the log is static files (a mirror): only /checkpoint and the tlog-tiles
	// paths, so the API's log info, proof bundles and history are not checked.
	Static bool
}

// summary is what a successful run reports.
type summary struct {
	OK               bool    `json:"ok"`
	Origin           string  `json:"origin"`
	Size             int64   `json:"size"`
	Root             string  `json:"root"`
	CheckpointTime   uint64  `json:"checkpointTime"`
	Tiles            int     `json:"tiles"`
	TileBytes        int64   `json:"tileBytes"`
	Hashes           int64   `json:"hashes"`
	Entries          int64   `json:"entries"`
	EntryBytes       int64   `json:"entryBytes"`
	Proofs           int     `json:"proofs"`
	History          int     `json:"history"`
	HistoryPages     int     `json:"historyPages"`
	Consecutive      int     `json:"consecutive"`
	ConsecutiveTotal int     `json:"consecutiveTotal"`
	ToLatest         int     `json:"toLatest"`
	ToLatestTotal    int     `json:"toLatestTotal"`
	Requests         int64   `json:"requests"`
	Seed             int64   `json:"seed"`
	Seconds          float64 `json:"seconds"`
}

// line is the one-line human summary.
func (s summary) line() string {
	return fmt.Sprintf("ok: %s size %d root %s (cosigned at %d); %d tiles / %d hashes and %d entries verified; "+
		"%d inclusion proofs; %d history checkpoints, consistency %d/%d consecutive + %d/%d to latest; %d requests, seed %d, %.1fs",
		s.Origin, s.Size, s.Root, s.CheckpointTime, s.Tiles, s.Hashes, s.Entries, s.Proofs,
		s.History, s.Consecutive, s.ConsecutiveTotal, s.ToLatest, s.ToLatestTotal, s.Requests, s.Seed, s.Seconds)
}

type verifier struct {
	cfg    config
	trust  *trust
	c      *client
	rng    *rand.Rand
	latest checkpoint
	leaves []tlog.Hash
	sum    summary
}

// run verifies the log at cfg.URL and returns a summary, or the first failure.
func run(ctx context.Context, cfg config) (s summary, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	start := time.Now()
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	logV, err := logVerifier(cfg.LogKey)
	if err != nil {
		return s, err
	}
	ts, err := newCosigner(cfg.TimestampKey)
	if err != nil {
		return s, err
	}
	v := &verifier{
		cfg:   cfg,
		trust: &trust{log: logV, ts: ts, now: cfg.Now},
		c:     newClient(ctx, cfg.URL, cfg.Timeout),
		rng:   rand.New(rand.NewSource(cfg.Seed)),
	}
	v.sum.Seed = cfg.Seed
	type step struct {
		name string
		fn   func() error
	}
	steps := []step{
		{"checkpoint", v.checkCheckpoint},
		{"log info", v.checkLogInfo},
		{"tiles", v.checkTiles},
		{"entries", v.checkEntries},
		{"inclusion proofs", v.checkInclusionProofs},
		{"history", v.checkHistory},
	}
	if cfg.Static {
		steps = []step{{"checkpoint", v.checkCheckpoint}, {"tiles", v.checkTiles}, {"entries", v.checkEntries}}
	}
	for _, step := range steps {
		if err := step.fn(); err != nil {
			return s, fmt.Errorf("%s: %v", step.name, err)
		}
	}
	v.sum.OK = true
	v.sum.Requests = v.c.requests.Load()
	v.sum.Seconds = time.Since(start).Seconds()
	return v.sum, nil
}

// checkCheckpoint fetches and verifies GET /checkpoint.
func (v *verifier) checkCheckpoint() error {
	body, err := v.c.get("/checkpoint", "text/plain; charset=utf-8")
	if err != nil {
		return err
	}
	cp, err := v.trust.openCheckpoint(body)
	if err != nil {
		return err
	}
	v.latest = cp
	v.sum.Origin, v.sum.Size, v.sum.Root, v.sum.CheckpointTime = cp.Origin, cp.Tree.N, cp.Tree.Hash.String(), cp.Time
	return nil
}

// checkLogInfo checks that GET /v1/log names the same origin and keys the verifier
// was given (the keys themselves come from the command line, never from the server).
func (v *verifier) checkLogInfo() error {
	body, err := v.c.get("/v1/log", "application/json")
	if err != nil {
		return err
	}
	var info struct {
		Origin       string `json:"origin"`
		LogKey       string `json:"logKey"`
		TimestampKey string `json:"timestampKey"`
		StatusKey    string `json:"statusKey"`
		RootKey      string `json:"rootKey"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return fmt.Errorf("/v1/log: bad JSON: %v", err)
	}
	if info.Origin != v.latest.Origin {
		return fmt.Errorf("/v1/log origin %q, checkpoint origin %q", info.Origin, v.latest.Origin)
	}
	if info.LogKey != v.cfg.LogKey {
		return fmt.Errorf("/v1/log logKey %q is not the trusted log key", info.LogKey)
	}
	if info.TimestampKey != v.cfg.TimestampKey {
		return fmt.Errorf("/v1/log timestampKey %q is not the trusted timestamp key", info.TimestampKey)
	}
	for name, k := range map[string]string{"statusKey": info.StatusKey, "rootKey": info.RootKey} {
		if _, err := parseVKey(k); err != nil {
			return fmt.Errorf("/v1/log %s: %v", name, err)
		}
	}
	return nil
}

// checkTiles reads every stored hash of the tree through tlog.TileHashReader over the
// tlog-tiles endpoints (so every tile of the tree is fetched and x/mod runs its own
// checks), checks that tlog.TreeHash over the hashes it returned is the root, then
// authenticates every tile read with authenticateTiles, which closes a gap in x/mod
// v0.7.0's TileHashReader. The leaf hashes come from the authenticated level-0 tiles.
func (v *verifier) checkTiles() error {
	tree := v.latest.Tree
	if tree.N == 0 {
		return nil
	}
	tr := newTileReader(v.c, v.cfg.Parallel)
	hr := tlog.TileHashReader(tree, tr)
	count := tlog.StoredHashCount(tree.N)
	indexes := make([]int64, count)
	for i := range indexes {
		indexes[i] = int64(i)
	}
	hashes, err := hr.ReadHashes(indexes)
	if err != nil {
		return fmt.Errorf("tree of size %d: %v", tree.N, err)
	}
	if int64(len(hashes)) != count {
		return fmt.Errorf("read %d hashes, want %d", len(hashes), count)
	}
	th, err := tlog.TreeHash(tree.N, tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			if x < 0 || x >= count {
				return nil, fmt.Errorf("stored hash %d not in tree", x)
			}
			out[i] = hashes[x]
		}
		return out, nil
	}))
	if err != nil {
		return err
	}
	if th != tree.Hash {
		return fmt.Errorf("tree hash from tiles %s, checkpoint root %s", th, tree.Hash)
	}
	want := treeTiles(tree.N)
	for _, t := range want {
		if !tr.confirmed[t] {
			return fmt.Errorf("%s was not read", tilePath(t))
		}
	}
	if len(tr.data) != len(want) {
		return fmt.Errorf("read %d tiles, the tree has %d", len(tr.data), len(want))
	}
	if err := authenticateTiles(tree, tr.data); err != nil {
		return fmt.Errorf("tree of size %d: %v", tree.N, err)
	}
	v.leaves = make([]tlog.Hash, tree.N)
	for i := range v.leaves {
		t := tlog.Tile{H: tileHeight, L: 0, N: int64(i) >> tileHeight}
		t.W = treeWidth(0, t.N, tree.N)
		copy(v.leaves[i][:], tr.data[t][(i%(1<<tileHeight))*tlog.HashSize:])
	}
	v.sum.Tiles, v.sum.TileBytes, v.sum.Hashes = len(want), tr.bytes, count
	return nil
}

// checkEntries fetches every entry bundle and checks tlog.RecordHash of each entry
// against the authenticated level-0 hashes.
func (v *verifier) checkEntries() error {
	n := v.latest.Tree.N
	bundles := int((n + 255) / 256)
	var mu sync.Mutex
	err := parallel(bundles, v.cfg.Parallel, func(b int) error {
		start := int64(b) * 256
		w := n - start
		if w > 256 {
			w = 256
		}
		t := tlog.Tile{H: tileHeight, L: -1, N: int64(b), W: int(w)}
		body, err := v.c.get(tilePath(t), "application/octet-stream")
		if err != nil {
			return err
		}
		entries, err := parseBundle(body, int(w))
		if err != nil {
			return fmt.Errorf("%s: %v", tilePath(t), err)
		}
		for j, e := range entries {
			if tlog.RecordHash(e) != v.leaves[start+int64(j)] {
				return fmt.Errorf("entry %d (%s): record hash does not match the level-0 tile", start+int64(j), tilePath(t))
			}
		}
		mu.Lock()
		v.sum.Entries += int64(len(entries))
		v.sum.EntryBytes += int64(len(body))
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	if v.sum.Entries != n {
		return fmt.Errorf("verified %d entries, tree has %d", v.sum.Entries, n)
	}
	return nil
}

// proofIndexes picks k distinct indexes in [0, n): the first and last, then random.
func (v *verifier) proofIndexes(k int, n int64) []int64 {
	if int64(k) > n {
		k = int(n)
	}
	seen := map[int64]bool{}
	var out []int64
	add := func(i int64) {
		if !seen[i] && len(out) < k {
			seen[i] = true
			out = append(out, i)
		}
	}
	add(0)
	add(n - 1)
	for len(out) < k {
		add(v.rng.Int63n(n))
	}
	return out
}

// checkInclusionProofs fetches tlog-proof bundles for random entries and checks each
// with tlog.CheckRecord against its own (verified) checkpoint, which must be the
// latest checkpoint or consistent with it.
func (v *verifier) checkInclusionProofs() error {
	if v.latest.Tree.N == 0 {
		return nil
	}
	idx := v.proofIndexes(v.cfg.Proofs, v.latest.Tree.N)
	err := parallel(len(idx), v.cfg.Parallel, func(k int) error {
		i := idx[k]
		path := fmt.Sprintf("/v1/entries/%d/proof", i)
		body, err := v.c.get(path, "")
		if err != nil {
			return err
		}
		p, err := parseTLogProof(body)
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		if p.Index != i {
			return fmt.Errorf("%s: bundle is for index %d", path, p.Index)
		}
		cp, err := v.trust.openCheckpoint(p.Checkpoint)
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		if cp.Tree.N <= i {
			return fmt.Errorf("%s: checkpoint size %d does not contain index %d", path, cp.Tree.N, i)
		}
		if err := v.related(v.latest.Tree, cp.Tree); err != nil {
			return fmt.Errorf("%s: its checkpoint vs the latest: %v", path, err)
		}
		if err := tlog.CheckRecord(p.Proof, cp.Tree.N, cp.Tree.Hash, i, v.leaves[i]); err != nil {
			return fmt.Errorf("%s: tlog.CheckRecord: %v", path, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	v.sum.Proofs = len(idx)
	return nil
}

// related checks that two trees are one log's views: equal roots at equal sizes,
// otherwise a consistency proof from the smaller to the larger.
func (v *verifier) related(a, b tlog.Tree) error {
	switch {
	case a.N == b.N:
		if a.Hash != b.Hash {
			return fmt.Errorf("two roots for size %d: %s and %s", a.N, a.Hash, b.Hash)
		}
		return nil
	case a.N < b.N:
		return v.consistency(a, b)
	default:
		return v.consistency(b, a)
	}
}

// consistency fetches an RFC 9162 consistency proof from old to new and checks it
// with tlog.CheckTree. The empty tree is a prefix of every tree.
func (v *verifier) consistency(old, new tlog.Tree) error {
	if old.N == 0 {
		if old.Hash != emptyRoot {
			return fmt.Errorf("size 0 with root %s", old.Hash)
		}
		return nil
	}
	path := fmt.Sprintf("/v1/proofs/consistency?from=%d&to=%d", old.N, new.N)
	body, err := v.c.get(path, "application/json")
	if err != nil {
		return err
	}
	var resp struct {
		From  *int64    `json:"from"`
		To    *int64    `json:"to"`
		Proof *[]string `json:"proof"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("%s: bad JSON: %v", path, err)
	}
	if resp.From == nil || resp.To == nil || resp.Proof == nil {
		return fmt.Errorf("%s: missing from, to or proof", path)
	}
	if *resp.From != old.N || *resp.To != new.N {
		return fmt.Errorf("%s: answered from=%d to=%d", path, *resp.From, *resp.To)
	}
	if len(*resp.Proof) > 128 {
		return fmt.Errorf("%s: %d hashes", path, len(*resp.Proof))
	}
	proof := make(tlog.TreeProof, len(*resp.Proof))
	for i, s := range *resp.Proof {
		h, err := parseHash(s)
		if err != nil {
			return fmt.Errorf("%s: proof hash %d: %v", path, i, err)
		}
		proof[i] = h
	}
	if err := tlog.CheckTree(proof, new.N, new.Hash, old.N, old.Hash); err != nil {
		return fmt.Errorf("%s: tlog.CheckTree: %v", path, err)
	}
	return nil
}

// historyPageLimit is the page size asked of GET /v1/checkpoints.
const historyPageLimit = 1000

// checkHistory pages through GET /v1/checkpoints, verifies every checkpoint's
// signatures, that sizes ascend and cosignature times never go back, that it holds the
// latest checkpoint, and checks consistency proofs between consecutive sizes and
// from each to the latest (all of them, or a seeded random sample of MaxConsistency).
func (v *verifier) checkHistory() error {
	var hist []checkpoint
	from := int64(0)
	for page := 0; ; page++ {
		if page > 10_000_000 {
			return fmt.Errorf("too many pages")
		}
		path := fmt.Sprintf("/v1/checkpoints?from=%d&limit=%d", from, historyPageLimit)
		body, err := v.c.get(path, "application/json")
		if err != nil {
			return err
		}
		var resp struct {
			Checkpoints *[]struct {
				Size       *int64  `json:"size"`
				Checkpoint *string `json:"checkpoint"`
			} `json:"checkpoints"`
			Next *int64 `json:"next"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			return fmt.Errorf("%s: bad JSON: %v", path, err)
		}
		if resp.Checkpoints == nil {
			return fmt.Errorf("%s: no checkpoints array", path)
		}
		items := *resp.Checkpoints
		cps := make([]checkpoint, len(items))
		err = parallel(len(items), v.cfg.Parallel, func(i int) error {
			it := items[i]
			if it.Size == nil || it.Checkpoint == nil {
				return fmt.Errorf("%s: item %d lacks size or checkpoint", path, i)
			}
			cp, err := v.trust.openCheckpoint([]byte(*it.Checkpoint))
			if err != nil {
				return fmt.Errorf("%s: item %d (size %d): %v", path, i, *it.Size, err)
			}
			if cp.Tree.N != *it.Size {
				return fmt.Errorf("%s: item %d says size %d, its checkpoint %d", path, i, *it.Size, cp.Tree.N)
			}
			cps[i] = cp
			return nil
		})
		if err != nil {
			return err
		}
		for _, cp := range cps {
			if cp.Tree.N < from {
				return fmt.Errorf("%s: size %d below from=%d", path, cp.Tree.N, from)
			}
			if n := len(hist); n > 0 {
				prev := hist[n-1]
				if cp.Tree.N <= prev.Tree.N {
					return fmt.Errorf("%s: size %d after %d: sizes must ascend", path, cp.Tree.N, prev.Tree.N)
				}
				if cp.Time < prev.Time {
					return fmt.Errorf("%s: size %d cosigned at %d, before size %d at %d", path, cp.Tree.N, cp.Time, prev.Tree.N, prev.Time)
				}
			}
			hist = append(hist, cp)
		}
		v.sum.HistoryPages++
		if resp.Next == nil {
			break
		}
		if len(cps) == 0 {
			return fmt.Errorf("%s: empty page with next=%d", path, *resp.Next)
		}
		if *resp.Next <= hist[len(hist)-1].Tree.N {
			return fmt.Errorf("%s: next=%d does not move past size %d", path, *resp.Next, hist[len(hist)-1].Tree.N)
		}
		from = *resp.Next
	}
	v.sum.History = len(hist)

	// The latest checkpoint must be in the history, same root, not cosigned earlier.
	at := sort.Search(len(hist), func(i int) bool { return hist[i].Tree.N >= v.latest.Tree.N })
	if at == len(hist) || hist[at].Tree.N != v.latest.Tree.N {
		return fmt.Errorf("the history has no checkpoint of the latest size %d", v.latest.Tree.N)
	}
	if hist[at].Tree.Hash != v.latest.Tree.Hash {
		return fmt.Errorf("two roots for size %d: history %s, /checkpoint %s", v.latest.Tree.N, hist[at].Tree.Hash, v.latest.Tree.Hash)
	}
	if v.latest.Time < hist[at].Time {
		return fmt.Errorf("/checkpoint cosigned at %d, before its history copy at %d", v.latest.Time, hist[at].Time)
	}

	// Consecutive pairs.
	pairs := v.sample(len(hist) - 1)
	v.sum.ConsecutiveTotal = len(hist) - 1
	if err := parallel(len(pairs), v.cfg.Parallel, func(k int) error {
		i := pairs[k] + 1
		return v.consistency(hist[i-1].Tree, hist[i].Tree)
	}); err != nil {
		return fmt.Errorf("consecutive: %v", err)
	}
	v.sum.Consecutive = len(pairs)

	// Each to the latest (the latest itself excluded).
	others := make([]checkpoint, 0, len(hist))
	others = append(others, hist[:at]...)
	others = append(others, hist[at+1:]...)
	picks := v.sample(len(others))
	v.sum.ToLatestTotal = len(others)
	if err := parallel(len(picks), v.cfg.Parallel, func(k int) error {
		return v.related(others[picks[k]].Tree, v.latest.Tree)
	}); err != nil {
		return fmt.Errorf("to latest: %v", err)
	}
	v.sum.ToLatest = len(picks)
	return nil
}

// sample returns all of 0..n-1, or a seeded random MaxConsistency of them, ascending.
func (v *verifier) sample(n int) []int {
	if n <= 0 {
		return nil
	}
	var out []int
	if v.cfg.MaxConsistency <= 0 || n <= v.cfg.MaxConsistency {
		out = make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out = v.rng.Perm(n)[:v.cfg.MaxConsistency]
	sort.Ints(out)
	return out
}
