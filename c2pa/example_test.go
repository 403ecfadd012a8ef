package c2pa_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"image"
	"log"
	"time"

	"github.com/imagegen/imagegen/c2pa"
	"github.com/imagegen/imagegen/imageio"
)

// A generated PNG signed and checked: trusted when the signer's CA is
// among the roots, invalid once its pixels change.
func Example() {
	creds, err := c2pa.NewTestCredentials(time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := c2pa.LoadSigner(creds.Key, creds.Chain)
	if err != nil {
		log.Fatal(err)
	}
	var png bytes.Buffer
	if err := imageio.EncodePNG(&png, image.NewNRGBA(image.Rect(0, 0, 16, 16)), imageio.Metadata{}); err != nil {
		log.Fatal(err)
	}
	signed, err := c2pa.Sign(png.Bytes(), c2pa.Manifest{
		Generator:  c2pa.Agent{Name: "imagegen", Version: "1.0"},
		Model:      "shapes",
		Parameters: map[string]any{"prompt": "a red circle", "seed": 7},
	}, signer)
	if err != nil {
		log.Fatal(err)
	}

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(creds.CA)
	r, err := c2pa.Verify(signed, c2pa.VerifyOptions{Roots: roots})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.State(), r.Actions[0].Action, "by", r.Actions[0].SoftwareAgent)
	fmt.Println(r.Model, r.Parameters["prompt"], r.Parameters["seed"])

	r, _ = c2pa.Verify(signed, c2pa.VerifyOptions{}) // no roots
	fmt.Println(r.State(), r.Failure[0].Code)
	// Output:
	// trusted c2pa.created by imagegen 1.0
	// shapes a red circle 7
	// valid signingCredential.untrusted
}

func ExampleVerify_noManifest() {
	var png bytes.Buffer
	if err := imageio.EncodePNG(&png, image.NewNRGBA(image.Rect(0, 0, 4, 4)), imageio.Metadata{}); err != nil {
		log.Fatal(err)
	}
	_, err := c2pa.Verify(png.Bytes(), c2pa.VerifyOptions{})
	fmt.Println(errors.Is(err, c2pa.ErrNoManifest))
	// Output:
	// true
}
