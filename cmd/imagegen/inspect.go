package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	onnxexport "github.com/imagegen/imagegen/onnx_export"
)

// inspectReport is what `imagegen inspect` prints; --json prints it as is.
type inspectReport struct {
	Path       string            `json:"path"`
	Producer   string            `json:"producer,omitempty"`
	IRVersion  int64             `json:"ir_version"`
	Opset      int64             `json:"opset"`
	Inputs     []inspectValue    `json:"inputs"`
	Outputs    []inspectValue    `json:"outputs"`
	Nodes      int               `json:"nodes"`
	OpCounts   map[string]int    `json:"op_counts"`
	Parameters int64             `json:"parameters"` // trainable weights, as PyTorch counts them
	Constants  int64             `json:"constants"`  // elements of helper-constant initializers
	Tensors    int               `json:"initializers"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}

type inspectValue struct {
	Name  string   `json:"name"`
	DType string   `json:"dtype"`
	Shape []string `json:"shape"`
}

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show an ONNX model's inputs, outputs, op counts, parameter count, opset and metadata",
		ArgsUsage: "MODEL.onnx",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("inspect: want one MODEL.onnx argument, got %d", c.NArg())
			}
			r, err := inspectModel(c.Args().First())
			if err != nil {
				return fmt.Errorf("inspect: %w", err)
			}
			if c.Bool("json") {
				return printJSON(r)
			}
			writeInspect(os.Stdout, r)
			return nil
		},
	}
}

func inspectModel(path string) (*inspectReport, error) {
	m, err := onnxexport.ReadModel(path)
	if err != nil {
		return nil, err
	}
	r := &inspectReport{
		Path: path, Producer: m.Proto.GetProducerName(), IRVersion: m.Proto.GetIrVersion(), Opset: m.Opset,
		Nodes: len(m.Proto.GetGraph().GetNode()), OpCounts: m.OpCounts(), Parameters: m.NumParams(),
		Constants: m.NumConstants(),
		Tensors:   len(m.Initializers), Metadata: m.Metadata,
	}
	conv := func(vs []onnxexport.ValueInfo) []inspectValue {
		out := make([]inspectValue, 0, len(vs))
		for _, v := range vs {
			iv := inspectValue{Name: v.Name, DType: v.DType.String(), Shape: []string{}}
			for _, d := range v.Shape {
				iv.Shape = append(iv.Shape, d.String())
			}
			out = append(out, iv)
		}
		return out
	}
	r.Inputs, r.Outputs = conv(m.Inputs), conv(m.Outputs)
	return r, nil
}

func writeInspect(w io.Writer, r *inspectReport) {
	fmt.Fprintf(w, "%s\n  producer %s, IR %d, opset %d\n", r.Path, r.Producer, r.IRVersion, r.Opset)
	for _, group := range []struct {
		title string
		vs    []inspectValue
	}{{"inputs", r.Inputs}, {"outputs", r.Outputs}} {
		fmt.Fprintf(w, "  %s:\n", group.title)
		for _, v := range group.vs {
			fmt.Fprintf(w, "    %-28s %-8s [%s]\n", v.Name, v.DType, strings.Join(v.Shape, ","))
		}
	}
	fmt.Fprintf(w, "  parameters: %d trainable weights (%s); %d constant elements; %d initializers\n",
		r.Parameters, humanCount(r.Parameters), r.Constants, r.Tensors)
	ops := make([]string, 0, len(r.OpCounts))
	for op := range r.OpCounts {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool {
		if r.OpCounts[ops[i]] != r.OpCounts[ops[j]] {
			return r.OpCounts[ops[i]] > r.OpCounts[ops[j]]
		}
		return ops[i] < ops[j]
	})
	fmt.Fprintf(w, "  nodes: %d\n", r.Nodes)
	for _, op := range ops {
		fmt.Fprintf(w, "    %-24s %d\n", op, r.OpCounts[op])
	}
	if len(r.Metadata) > 0 {
		keys := make([]string, 0, len(r.Metadata))
		for k := range r.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintln(w, "  metadata:")
		for _, k := range keys {
			fmt.Fprintf(w, "    %s = %s\n", k, r.Metadata[k])
		}
	}
}

// humanCount formats a parameter count as 1.2M / 860.0M / 1.07B.
func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
