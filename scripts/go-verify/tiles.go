package main

// Tiles: the mapping of x/mod tile coordinates to c2sp.org/tlog-tiles paths, a
// tlog.TileReader over HTTP, the complete authentication of a tree's tiles, and entry
// bundles.

import (
	"fmt"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is fixed by tlog-tiles: 256 hashes a tile.
const tileHeight = 8

// tilePath maps an x/mod tile (tile/8/L/NNN[.p/W], L = -1 spelled "data") to the
// tlog-tiles path /tile/L/NNN[.p/W] or /tile/entries/NNN[.p/W].
func tilePath(t tlog.Tile) string {
	if t.H != tileHeight {
		panic(fmt.Sprintf("tile height %d", t.H))
	}
	p := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", tileHeight))
	if t.L == -1 {
		p = "entries/" + strings.TrimPrefix(p, "data/")
	}
	return "/tile/" + p
}

// httpTileReader is a tlog.TileReader over the tlog-tiles API. It trusts nothing it
// reads; it keeps each tile's data so that authenticateTiles can check all of them,
// and remembers which tiles tlog.TileHashReader confirmed (SaveTiles).
type httpTileReader struct {
	c        *client
	parallel int

	mu        sync.Mutex
	data      map[tlog.Tile][]byte
	confirmed map[tlog.Tile]bool
	bytes     int64
}

func newTileReader(c *client, parallel int) *httpTileReader {
	return &httpTileReader{c: c, parallel: parallel, data: map[tlog.Tile][]byte{}, confirmed: map[tlog.Tile]bool{}}
}

func (r *httpTileReader) Height() int { return tileHeight }

// ReadTiles fetches the tiles in parallel; each must be exactly W hashes long.
func (r *httpTileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	err := parallel(len(tiles), r.parallel, func(i int) error {
		t := tiles[i]
		b, err := r.c.get(tilePath(t), "application/octet-stream")
		if err != nil {
			return err
		}
		if len(b) != t.W*tlog.HashSize {
			return fmt.Errorf("%s: %d bytes, want %d (%d hashes)", tilePath(t), len(b), t.W*tlog.HashSize, t.W)
		}
		data[i] = b
		r.mu.Lock()
		if prev, ok := r.data[t]; ok && string(prev) != string(b) {
			r.mu.Unlock()
			return fmt.Errorf("%s: two different answers", tilePath(t))
		}
		r.data[t] = b
		r.bytes += int64(len(b))
		r.mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// SaveTiles records the tiles that tlog.TileHashReader authenticated.
func (r *httpTileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range tiles {
		r.confirmed[t] = true
	}
}

// treeTiles lists every hash tile of a tree of size n: at each level, the full tiles
// and at most one partial tile of width floor(n / 256^l) mod 256 (tlog-tiles).
func treeTiles(n int64) []tlog.Tile {
	var tiles []tlog.Tile
	for l := 0; n>>(uint(l)*tileHeight) > 0; l++ {
		hashes := n >> (uint(l) * tileHeight)
		for i := int64(0); i < hashes>>tileHeight; i++ {
			tiles = append(tiles, tlog.Tile{H: tileHeight, L: l, N: i, W: 1 << tileHeight})
		}
		if w := int(hashes & (1<<tileHeight - 1)); w > 0 {
			tiles = append(tiles, tlog.Tile{H: tileHeight, L: l, N: hashes >> tileHeight, W: w})
		}
	}
	return tiles
}

// treeWidth is the width of tile (level l, number n) in a tree of size size:
// 256, or the partial width at the right edge, or 0 if the tile is beyond the tree.
func treeWidth(l int, n int64, size int64) int {
	hashes := size >> (uint(l) * tileHeight)
	switch {
	case (n+1)<<tileHeight <= hashes:
		return 1 << tileHeight
	case n<<tileHeight < hashes:
		return int(hashes - n<<tileHeight)
	}
	return 0
}

// authenticateTiles checks every hash tile of the tree against its root, using only
// x/mod's exported tlog functions. tlog.TileHashReader (x/mod v0.7.0) does not do this
// for all the tiles it reads: its loop "authenticate full tiles against their parents"
// starts at len(stx), the number of root subtrees, rather than at the number of tiles
// holding them, so when several root subtrees share a tile (tree size 1000, say) up to
// that many of the following tiles are returned unchecked. The check here is:
//
//   - the tree hash computed by tlog.TreeHash from the tiles equals the root; its
//     subtrees cover every hash of every partial (right-edge) tile;
//   - each full tile's subtree hash, NodeHash of its two halves via tlog.HashFromTile,
//     equals the hash for it in its parent tile one level up.
//
// The top level holds only a partial tile, so by induction from the top every tile is
// bound to the root.
func authenticateTiles(tree tlog.Tree, tiles map[tlog.Tile][]byte) error {
	hashAt := func(x int64) (tlog.Hash, error) {
		t := tlog.TileForIndex(tileHeight, x)
		t.W = treeWidth(t.L, t.N, tree.N)
		data, ok := tiles[t]
		if !ok || t.W == 0 {
			return tlog.Hash{}, fmt.Errorf("stored hash %d: %s not read", x, tilePath(t))
		}
		return tlog.HashFromTile(t, data, x)
	}
	th, err := tlog.TreeHash(tree.N, tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			h, err := hashAt(x)
			if err != nil {
				return nil, err
			}
			out[i] = h
		}
		return out, nil
	}))
	if err != nil {
		return err
	}
	if th != tree.Hash {
		return fmt.Errorf("right-edge tiles give root %s, checkpoint says %s", th, tree.Hash)
	}
	for _, t := range treeTiles(tree.N) {
		data, ok := tiles[t]
		if !ok {
			return fmt.Errorf("%s not read", tilePath(t))
		}
		if t.W != 1<<tileHeight {
			continue
		}
		top := tileHeight*t.L + tileHeight - 1 // level of the tile's two halves
		left, err := tlog.HashFromTile(t, data, tlog.StoredHashIndex(top, 2*t.N))
		if err != nil {
			return err
		}
		right, err := tlog.HashFromTile(t, data, tlog.StoredHashIndex(top, 2*t.N+1))
		if err != nil {
			return err
		}
		want, err := hashAt(tlog.StoredHashIndex(tileHeight*(t.L+1), t.N))
		if err != nil {
			return err
		}
		if tlog.NodeHash(left, right) != want {
			return fmt.Errorf("%s does not match its parent tile", tilePath(t))
		}
	}
	return nil
}

// parseBundle splits an entry bundle into exactly want entries, each a big-endian
// uint16 length followed by that many bytes, with nothing left over.
func parseBundle(b []byte, want int) ([][]byte, error) {
	entries := make([][]byte, 0, want)
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, fmt.Errorf("truncated length prefix after entry %d", len(entries))
		}
		n := int(b[0])<<8 | int(b[1])
		if len(b) < 2+n {
			return nil, fmt.Errorf("entry %d: length %d exceeds the %d bytes left", len(entries), n, len(b)-2)
		}
		entries = append(entries, b[2:2+n])
		b = b[2+n:]
		if len(entries) > want {
			return nil, fmt.Errorf("more than %d entries", want)
		}
	}
	if len(entries) != want {
		return nil, fmt.Errorf("%d entries, want %d", len(entries), want)
	}
	return entries, nil
}
