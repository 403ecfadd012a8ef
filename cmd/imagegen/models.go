package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/builtin"
	"github.com/imagegen/imagegen/modelreg"
)

func modelsCommand() *cli.Command {
	return &cli.Command{
		Name:  "models",
		Usage: "list the built-in models (family, parameters, size, what they know) and the models named in models.yaml files",
		Description: "Built-in models are embedded in the binary and run as --model builtin:NAME.\n" +
			"Then reads ./models.yaml, ~/.config/imagegen/models.yaml and every --models FILE (later entries override earlier ones).\n\n" +
			"Examples:\n   imagegen models\n   imagegen --models my.yaml models --json",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print {\"builtin\": [...], \"models\": [...]} as JSON"}},
		Action: func(c *cli.Context) error {
			reg, err := registry(c)
			if err != nil {
				return err
			}
			type builtinRow struct {
				Name       string   `json:"name"`
				Family     string   `json:"family"`
				Summary    string   `json:"summary"`
				Knows      string   `json:"knows"`
				Commands   []string `json:"commands"`
				Parameters int64    `json:"parameters"`
				Bytes      int64    `json:"bytes"`
				Components []string `json:"components"`
			}
			type row struct {
				modelreg.Model
				Status string `json:"status"`
			}
			var builtins []builtinRow
			for _, m := range builtin.All() {
				st, err := m.Stats()
				if err != nil {
					continue // not in this build
				}
				builtins = append(builtins, builtinRow{builtin.Scheme + m.Name, m.Family, m.Summary, m.Knows, m.Commands, st.Parameters, st.Bytes, st.Components})
			}
			rows := []row{}
			for _, m := range reg.Models() {
				rows = append(rows, row{m, modelStatus(m)})
			}
			if c.Bool("json") {
				return printJSON(map[string]any{"builtin": builtins, "models": rows})
			}
			fmt.Printf("%-17s %-11s %8s %8s  %s\n", "BUILT-IN", "FAMILY", "PARAMS", "SIZE", "WHAT IT IS / KNOWS / COMMANDS")
			for _, b := range builtins {
				fmt.Printf("%-17s %-11s %8s %8s  %s\n", b.Name, b.Family, humanCount(b.Parameters), humanBytes(b.Bytes), b.Summary)
				fmt.Printf("%-48s knows %s\n", "", b.Knows)
				fmt.Printf("%-48s commands: %s\n", "", strings.Join(b.Commands, ", "))
			}
			fmt.Println()
			if len(rows) == 0 {
				fmt.Println("no models.yaml entries: add them to ./models.yaml or ~/.config/imagegen/models.yaml")
				return nil
			}
			fmt.Printf("%-24s %-8s %-8s %s\n", "NAME (models.yaml)", "FAMILY", "STATUS", "SOURCE")
			for _, r := range rows {
				fmt.Printf("%-24s %-8s %-8s %s\n", r.Name, r.Family, r.Status, r.Source)
			}
			return nil
		},
	}
}

// humanBytes writes a size as 12.0 MB.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
