package main

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/c2pa"
)

// Exit codes of imagegen provenance, for scripts.
const (
	exitManifestValid   = 0 // a valid manifest (trusted or not)
	exitNoManifest      = 1 // no manifest, or one that fails validation
	exitProvenanceError = 2 // the file or the options could not be read
)

func provenanceCommand() *cli.Command {
	return &cli.Command{
		Name:      "provenance",
		Usage:     "read and verify the C2PA manifest (content credentials) of a PNG or JPEG",
		ArgsUsage: "IMG",
		Description: "Checks the active manifest's claim signature (COSE ES256/384/512, PS256/384/512 or Ed25519), its\n" +
			"certificate chain, every assertion hash and the data hash over the file, and prints what it states:\n" +
			"the action, the software agent, the model and the generation parameters. imagegen generate\n" +
			"--c2pa-key KEY.pem --c2pa-cert CHAIN.pem writes such manifests. Without --trust a valid signature is\n" +
			"reported as valid but untrusted (c2pa-rs's \"Valid\" state); with it, a chain to one of those roots\n" +
			"is trusted.\n\n" +
			"Exit status: 0 a valid manifest; 1 no manifest, or an invalid one (the output says which);\n" +
			"2 an error (unreadable or truncated file, not PNG or JPEG, bad --trust file).\n" +
			"--json prints {\"file\", \"status\": \"trusted\"|\"valid\"|\"invalid\"|\"none\", \"manifest\": {...}}.\n\n" +
			"Examples:\n" +
			"   imagegen provenance out.png\n" +
			"   imagegen provenance --trust ca.pem out.png --json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "trust", Usage: "PEM `FILE` of trusted root certificates"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object"},
		},
		Action:       runProvenance,
		OnUsageError: exitOnUsageError("provenance", exitProvenanceError),
	}
}

// exitOnUsageError is usageError with an exit code.
func exitOnUsageError(command string, code int) cli.OnUsageErrorFunc {
	usage := usageError(command)
	return func(c *cli.Context, err error, sub bool) error {
		return &exitCodeError{code: code, err: usage(c, err, sub)}
	}
}

// provenanceResult is provenance's --json output.
type provenanceResult struct {
	File     string       `json:"file"`
	Status   string       `json:"status"`
	Manifest *c2pa.Report `json:"manifest"`
}

func runProvenance(c *cli.Context) error {
	code, err := provenance(c)
	if err != nil {
		return &exitCodeError{code: exitProvenanceError, err: fmt.Errorf("provenance: %w", err)}
	}
	if code != exitManifestValid {
		return &exitCodeError{code: code}
	}
	return nil
}

// provenance prints what the manifest of the file argument says and
// returns the exit code for it.
func provenance(c *cli.Context) (int, error) {
	if c.NArg() != 1 {
		return 0, fmt.Errorf("want one IMG argument, got %d", c.NArg())
	}
	path := c.Args().First()
	var opts c2pa.VerifyOptions
	if t := c.String("trust"); t != "" {
		pemBytes, err := os.ReadFile(t)
		if err != nil {
			return 0, fmt.Errorf("--trust: %w", err)
		}
		opts.Roots = x509.NewCertPool()
		if !opts.Roots.AppendCertsFromPEM(pemBytes) {
			return 0, fmt.Errorf("--trust %s: no PEM certificate in it", t)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	r, err := c2pa.Verify(data, opts)
	res := provenanceResult{File: path, Status: "none", Manifest: r}
	switch {
	case errors.Is(err, c2pa.ErrNoManifest):
		if c.Bool("json") {
			return exitNoManifest, printJSON(res)
		}
		fmt.Printf("%s: no C2PA manifest\n", path)
		return exitNoManifest, nil
	case err != nil:
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	res.Status = r.State()
	code := exitManifestValid
	if !r.Valid() {
		code = exitNoManifest
	}
	if c.Bool("json") {
		return code, printJSON(res)
	}
	printReport(path, r, opts.Roots != nil)
	return code, nil
}

func printReport(path string, r *c2pa.Report, trustGiven bool) {
	switch r.State() {
	case "trusted":
		fmt.Printf("%s: C2PA manifest valid, signer trusted\n", path)
	case "valid":
		hint := "no --trust roots given"
		if trustGiven {
			hint = "not issued under the --trust roots"
		}
		fmt.Printf("%s: C2PA manifest valid, signer untrusted (%s)\n", path, hint)
	default:
		fmt.Printf("%s: C2PA manifest INVALID\n", path)
	}
	fmt.Printf("  manifest:   %s (claim v%d, %s)\n", r.Label, r.ClaimVersion, r.Format.MIMEType())
	if r.Signer != nil {
		fmt.Printf("  signed by:  %s (issuer %s)\n", r.Signer.Subject, r.Signer.Issuer)
	}
	for _, a := range r.Actions {
		fmt.Printf("  action:     %s", a.Action)
		if a.SoftwareAgent != "" {
			fmt.Printf(" by %s", a.SoftwareAgent)
		}
		if a.DigitalSourceType != "" {
			fmt.Printf(" (%s)", filepath.Base(a.DigitalSourceType))
		}
		fmt.Println()
	}
	if r.Model != "" {
		fmt.Printf("  model:      %s\n", r.Model)
	}
	if len(r.Parameters) > 0 {
		p, _ := json.Marshal(r.Parameters)
		fmt.Printf("  parameters: %s\n", p)
	}
	var passed []string
	for _, s := range r.Success {
		passed = append(passed, s.Code)
	}
	fmt.Printf("  passed:     %s\n", strings.Join(passed, ", "))
	for _, s := range r.Failure {
		fmt.Printf("  failed:     %s: %s\n", s.Code, s.Explanation)
	}
	for _, s := range r.Informational {
		fmt.Printf("  note:       %s: %s\n", s.Code, s.Explanation)
	}
}

// c2paSigner loads the signer of generate's --c2pa-key and --c2pa-cert,
// or returns nil when neither is given.
func c2paSigner(c *cli.Context) (*c2pa.Signer, error) {
	key, cert := c.String("c2pa-key"), c.String("c2pa-cert")
	if key == "" && cert == "" {
		return nil, nil
	}
	if key == "" || cert == "" {
		return nil, errors.New("--c2pa-key and --c2pa-cert go together")
	}
	return c2pa.LoadSignerFiles(key, cert)
}

// c2paManifest is what imagegen's C2PA manifest states about one output:
// the model and the request JSON that is also stored in its PNG text.
func c2paManifest(title, model, requestJSON string) (c2pa.Manifest, error) {
	m := c2pa.Manifest{Generator: c2pa.Agent{Name: "imagegen", Version: version}, Title: title, Model: model}
	if err := json.Unmarshal([]byte(requestJSON), &m.Parameters); err != nil {
		return m, fmt.Errorf("c2pa manifest parameters: %w", err)
	}
	return m, nil
}
