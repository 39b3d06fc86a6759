package router

import "strings"

// node is one node of a compressed byte trie (radix tree) over exact and
// prefix path keys. The key of a node is the concatenation of seg from the
// root down; a node holds the routes whose path equals that key.
//
// Nodes are written only while Build runs and read-only afterwards.
type node struct {
	seg      string // edge label from parent; "" only at the root
	parent   *node
	exact    []int32 // PathExact routes with this key, in file order
	prefix   []int32 // PathPrefix routes with this key, in file order
	firsts   string  // firsts[i] is the first byte of children[i].seg
	children []*node
}

// insert returns the node for key below n, creating and splitting nodes as
// needed.
func (n *node) insert(key string) *node {
	for key != "" {
		i := strings.IndexByte(n.firsts, key[0])
		if i < 0 {
			child := &node{seg: key, parent: n}
			n.firsts += key[:1]
			n.children = append(n.children, child)
			return child
		}
		child := n.children[i]
		l := commonPrefixLen(key, child.seg)
		if l < len(child.seg) {
			// Split the edge: n -> mid(seg[:l]) -> child(seg[l:]).
			mid := &node{seg: child.seg[:l], parent: n}
			child.seg, child.parent = child.seg[l:], mid
			mid.firsts = child.seg[:1]
			mid.children = []*node{child}
			n.children[i] = mid
			child = mid
		}
		key = key[l:]
		n = child
	}
	return n
}

func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// walk descends as far as path allows and returns the deepest node whose key
// is a prefix of path, with the part of path left over. Every node on the way
// back up through parent is also a prefix of path, longest first.
func (n *node) walk(path []byte) (*node, []byte) {
	for len(path) > 0 {
		i := strings.IndexByte(n.firsts, path[0])
		if i < 0 {
			break
		}
		child := n.children[i]
		if len(path) < len(child.seg) || string(path[:len(child.seg)]) != child.seg {
			break
		}
		path = path[len(child.seg):]
		n = child
	}
	return n, path
}
