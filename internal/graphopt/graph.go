package graphopt

import (
	"fmt"

	"github.com/imagegen/imagegen/onnx_export/onnxpb"
)

// removeDead drops nodes none of whose outputs is read by another node or
// is a graph output, until none is left.
func removeDead(g *onnxpb.GraphProto) error {
	for {
		used := map[string]bool{}
		for _, o := range g.Output {
			used[o.GetName()] = true
		}
		for _, n := range g.Node {
			for _, in := range n.Input {
				used[in] = true
			}
			markSubgraphInputs(n, used)
		}
		kept := g.Node[:0]
		removed := false
		for _, n := range g.Node {
			live := false
			for _, o := range n.Output {
				if o != "" && used[o] {
					live = true
				}
			}
			if live {
				kept = append(kept, n)
			} else {
				removed = true
			}
		}
		g.Node = kept
		if !removed {
			return nil
		}
	}
}

// markSubgraphInputs marks the outer values that If/Loop/Scan bodies read.
func markSubgraphInputs(n *onnxpb.NodeProto, used map[string]bool) {
	for _, a := range n.Attribute {
		subs := a.Graphs
		if a.G != nil {
			subs = append(subs, a.G)
		}
		for _, sg := range subs {
			for _, sn := range sg.Node {
				for _, in := range sn.Input {
					used[in] = true
				}
				markSubgraphInputs(sn, used)
			}
		}
	}
}

// sortTopological orders g's nodes so every node follows the producers of
// its inputs, keeping the original order where it already does.
func sortTopological(g *onnxpb.GraphProto) error {
	avail := map[string]bool{"": true}
	for _, in := range g.Input {
		avail[in.GetName()] = true
	}
	for _, t := range g.Initializer {
		avail[t.GetName()] = true
	}
	pending := g.Node
	out := make([]*onnxpb.NodeProto, 0, len(pending))
	for len(pending) > 0 {
		var rest []*onnxpb.NodeProto
		for _, n := range pending {
			ready := true
			for _, in := range n.Input {
				if !avail[in] {
					ready = false
					break
				}
			}
			if !ready {
				rest = append(rest, n)
				continue
			}
			out = append(out, n)
			for _, o := range n.Output {
				avail[o] = true
			}
		}
		if len(rest) == len(pending) {
			return fmt.Errorf("graphopt: graph has a cycle or reads undefined values (node %s)", rest[0].GetName())
		}
		pending = rest
	}
	g.Node = out
	return nil
}
