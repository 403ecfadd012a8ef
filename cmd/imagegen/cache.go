package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/ort"
)

// graphCacheFlags are the global flags of the optimized-graph cache.
func graphCacheFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "graph-cache", EnvVars: []string{"IMAGEGEN_GRAPH_CACHE"},
			Usage: "`DIR` keeping the graphs ONNX Runtime optimized, so later loads of a model skip the optimizer (default: " + ort.DefaultGraphCacheDir() + ")"},
		&cli.BoolFlag{Name: "no-graph-cache", EnvVars: []string{"IMAGEGEN_NO_GRAPH_CACHE"}, Usage: "load models without the optimized-graph cache"},
	}
}

// graphCache returns the cache the loading commands use, or nil with
// --no-graph-cache.
func graphCache(c *cli.Context) *ort.GraphCache {
	if c.Bool("no-graph-cache") {
		return nil
	}
	return &ort.GraphCache{Dir: c.String("graph-cache"), MinModelBytes: ort.DefaultMinCachedModelBytes}
}

func cacheCommand() *cli.Command {
	return &cli.Command{
		Name:  "cache",
		Usage: "list or clear the optimized-graph cache",
		Description: "The first load of a model larger than 64 MiB saves the graph ONNX Runtime optimized, with its weights, " +
			"under --graph-cache; later loads of the same model (same files, ONNX Runtime version, CPU, --device) open it " +
			"with the optimizer off. An entry whose files no longer match its manifest is rebuilt on its next load." +
			"\n\nExamples:\n   imagegen cache ls\n   imagegen cache clear",
		Subcommands: []*cli.Command{
			{
				Name:  "ls",
				Usage: "list the cache's entries, most recently used first",
				Action: func(c *cli.Context) error {
					gc := &ort.GraphCache{Dir: c.String("graph-cache")}
					entries, err := gc.Entries()
					if err != nil {
						return err
					}
					return printCacheEntries(c, gc, entries)
				},
			},
			{
				Name:  "clear",
				Usage: "remove every entry",
				Action: func(c *cli.Context) error {
					gc := &ort.GraphCache{Dir: c.String("graph-cache")}
					n, size, err := gc.Clear()
					if err != nil {
						return err
					}
					fmt.Printf("removed %s (%s) from %s\n", plural(n, "entry", "entries"), humanBytes(size), cacheDir(gc))
					return nil
				},
			},
		},
	}
}

func cacheDir(gc *ort.GraphCache) string {
	if gc.Dir == "" {
		return ort.DefaultGraphCacheDir()
	}
	return gc.Dir
}

func printCacheEntries(c *cli.Context, gc *ort.GraphCache, entries []ort.GraphCacheEntry) error {
	var total int64
	for _, e := range entries {
		total += e.Bytes
	}
	fmt.Printf("%s: %s, %s\n", cacheDir(gc), plural(len(entries), "entry", "entries"), humanBytes(total))
	if len(entries) == 0 {
		return nil
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KEY\tSIZE\tDEVICE\tONNXRUNTIME\tLAST USED\tSOURCE")
	for _, e := range entries {
		src := e.Source
		if e.Err != nil {
			src += " (unusable: " + e.Err.Error() + "; rebuilt on next load)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Key, humanBytes(e.Bytes), e.Device, e.Runtime,
			e.Used.Local().Format(time.DateTime), src)
	}
	return w.Flush()
}

// plural writes n with the singular or plural noun.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
