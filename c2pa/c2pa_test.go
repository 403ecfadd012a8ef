package c2pa

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png" // image.Decode of the signed PNGs
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/imagegen/imagegen/imageio"
)

// testImage is a small gradient, so the encoders have something to say.
func testImage(w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	return img
}

// testPNG is a PNG as imagegen writes its outputs: sRGB, the parameters
// text and the request JSON in chunks after IHDR.
func testPNG(t testing.TB) []byte {
	var b bytes.Buffer
	meta := imageio.Metadata{Parameters: "a red circle\nSteps: 20, Seed: 7", JSON: `{"prompt":"a red circle","seed":7}`}
	if err := imageio.EncodePNG(&b, testImage(48, 32), meta); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// testJPEG is a baseline JPEG; with jfif it starts with a JFIF APP0
// segment, after which the manifest must go.
func testJPEG(t testing.TB, jfif bool) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(48, 32), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	if jfif {
		app0 := []byte{0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
		data = slices.Concat(data[:2], app0, data[2:])
	}
	return data
}

// withForeignJUMBF adds an APP11 JUMBF segment that is not a C2PA
// manifest store (a JSON box, instance 1) after SOI; Sign must keep it and
// Verify must not take it for a manifest.
func withForeignJUMBF(jpg []byte) []byte {
	box := (&superbox{typ: typeJSON, label: "other", contentType: "json", content: []byte(`{}`)}).appendTo(nil)
	seg := slices.Concat([]byte{'J', 'P', 0, 1, 0, 0, 0, 1}, box)
	head := []byte{0xff, markerAPP11, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}
	return slices.Concat(jpg[:2], head, seg, jpg[2:])
}

func testManifest(paramBytes int) Manifest {
	m := Manifest{
		Generator: Agent{Name: "imagegen", Version: "test"},
		Title:     "out.png",
		Model:     "shapes",
		Parameters: map[string]any{
			"prompt": "a red circle above a blue square", "seed": 7, "steps": 20, "guidance": 7.5,
		},
	}
	if paramBytes > 0 {
		m.Parameters["padding"] = strings.Repeat("x", paramBytes)
	}
	return m
}

// codes returns the status codes of ss.
func codes(ss []Status) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Code
	}
	return out
}

func TestSignVerify(t *testing.T) {
	pki := newTestPKI(t)
	s := pki.signer(t)
	tests := []struct {
		name       string
		in         []byte
		paramBytes int
		segments   int // APP11 segments for JPEG
	}{
		{"png", testPNG(t), 0, 0},
		{"png large manifest", testPNG(t), 200_000, 0},
		{"jpeg", testJPEG(t, false), 0, 1},
		{"jpeg jfif", testJPEG(t, true), 0, 1},
		{"jpeg split over segments", testJPEG(t, true), 150_000, 3},
		{"jpeg with another JUMBF box", withForeignJUMBF(testJPEG(t, false)), 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testManifest(tt.paramBytes)
			out, err := Sign(tt.in, m, s)
			if err != nil {
				t.Fatal(err)
			}
			f, _ := DetectFormat(tt.in)
			checkLayout(t, f, tt.in, out, tt.segments)
			// The picture itself must still decode to the same pixels.
			a, _, err := image.Decode(bytes.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			b, _, err := image.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("signed file does not decode: %v", err)
			}
			if a.Bounds() != b.Bounds() || a.At(5, 7) != b.At(5, 7) {
				t.Errorf("signed picture differs: %v %v vs %v %v", a.Bounds(), a.At(5, 7), b.Bounds(), b.At(5, 7))
			}

			for _, trust := range []bool{false, true} {
				opts := VerifyOptions{}
				if trust {
					opts.Roots = pki.roots()
				}
				r, err := Verify(out, opts)
				if err != nil {
					t.Fatal(err)
				}
				want := "valid"
				if trust {
					want = "trusted"
				}
				if r.State() != want {
					t.Errorf("trust %v: state %q, want %q; failures %v", trust, r.State(), want, r.Failure)
				}
				for _, c := range []string{StatusClaimSignatureValidated, StatusDataHashMatch, StatusHashedURIMatch} {
					if !slices.Contains(codes(r.Success), c) {
						t.Errorf("trust %v: no %s in %v", trust, c, codes(r.Success))
					}
				}
				if !trust && !slices.Equal(codes(r.Failure), []string{StatusSigningCredentialUntrusted}) {
					t.Errorf("untrusted failures %v, want only %s", codes(r.Failure), StatusSigningCredentialUntrusted)
				}
			}
			r, _ := Verify(out, VerifyOptions{})
			if len(r.Informational) != 0 {
				t.Errorf("informational %v, want none (one exclusion: the manifest)", r.Informational)
			}
			wantAction := Action{Action: ActionCreated, DigitalSourceType: TrainedAlgorithmicMedia, SoftwareAgent: "imagegen test"}
			if len(r.Actions) != 1 || r.Actions[0] != wantAction {
				t.Errorf("actions %+v, want [%+v]", r.Actions, wantAction)
			}
			if r.Model != m.Model || r.Parameters["prompt"] != m.Parameters["prompt"] || r.Parameters["guidance"] != 7.5 {
				t.Errorf("generation %q %v, want %q %v", r.Model, r.Parameters, m.Model, m.Parameters)
			}
			if r.ClaimVersion != 2 || r.Format != f || !strings.HasPrefix(r.Label, "urn:c2pa:") || r.Title != m.Title {
				t.Errorf("claim version %d, format %s, label %q, title %q", r.ClaimVersion, r.Format, r.Label, r.Title)
			}
			if r.Signer == nil || !strings.Contains(r.Signer.Subject, "imagegen test signer") {
				t.Errorf("signer %+v", r.Signer)
			}

			// Signing a signed file replaces its manifest.
			again, err := Sign(out, m, s)
			if err != nil {
				t.Fatal(err)
			}
			checkLayout(t, f, tt.in, again, tt.segments)
			if r, err := Verify(again, VerifyOptions{Roots: pki.roots()}); err != nil || r.State() != "trusted" {
				t.Errorf("re-signed: %v %v", err, r.Failure)
			}
		})
	}
}

// checkLayout checks where Sign put the store: a caBX chunk right after
// IHDR, or APP11 segments right after SOI or APP0, with the rest of the
// file unchanged.
func checkLayout(t *testing.T, f Format, in, out []byte, segments int) {
	t.Helper()
	_, where, err := findStore(f, out)
	if err != nil {
		t.Fatal(err)
	}
	wantStart := 2
	if f == PNG {
		wantStart = len(pngSignature) + 25
	} else if in[3] == markerAPP0 {
		wantStart = 2 + 2 + int(binary.BigEndian.Uint16(in[4:]))
	}
	if where.Start != wantStart {
		t.Errorf("store at %d, want %d", where.Start, wantStart)
	}
	rest := slices.Concat(out[:where.Start], out[where.Start+where.Length:])
	if !bytes.Equal(rest, in) {
		t.Errorf("file outside the store changed (%d bytes, want %d)", len(rest), len(in))
	}
	if f == JPEG {
		segs, _, _ := jpegSegments(out)
		en, _ := c2paInstanceOf(segs)
		n := 0
		for _, s := range segs {
			if isStoreSegment(s, en) {
				n++
			}
		}
		if n != segments {
			t.Errorf("%d APP11 segments, want %d", n, segments)
		}
	}
}

// tamperPixels changes one byte of the picture data (keeping a PNG's CRCs
// right, so only the data hash can notice).
func tamperPixels(t testing.TB, data []byte) []byte {
	t.Helper()
	out := bytes.Clone(data)
	f, _ := DetectFormat(data)
	if f == PNG {
		chunks, err := pngChunks(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chunks {
			if c.typ == "IDAT" {
				out[c.start+8+len(c.data)/2] ^= 0x01
				binary.BigEndian.PutUint32(out[c.end-4:], crc32.ChecksumIEEE(out[c.start+4:c.end-4]))
				return out
			}
		}
	}
	_, sos, err := jpegSegments(out)
	if err != nil {
		t.Fatal(err)
	}
	for i := (sos + len(out)) / 2; i < len(out)-2; i++ {
		if out[i] < 0xfe && out[i-1] != 0xff && out[i+1] != 0xff {
			out[i] ^= 0x01
			return out
		}
	}
	t.Fatal("no scan byte to change")
	return nil
}

// resealStore rewrites the store of a signed file through edit, which may
// change its boxes, and embeds it again.
func resealStore(t testing.TB, signed []byte, edit func(store *superbox)) []byte {
	t.Helper()
	f, _ := DetectFormat(signed)
	raw, _, err := findStore(f, signed)
	if err != nil {
		t.Fatal(err)
	}
	store, err := parseSuperbox(raw)
	if err != nil {
		t.Fatal(err)
	}
	edit(store)
	out, _, err := embed(f, signed, store.appendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tamperSignature flips a bit of the COSE signature.
func tamperSignature(t testing.TB, signed []byte) []byte {
	return resealStore(t, signed, func(store *superbox) {
		sig := store.children[0].child(labelSignature)
		sig.content = bytes.Clone(sig.content)
		sig.content[len(sig.content)-5] ^= 0x10
		sig.payload = nil
	})
}

// tamperAssertion changes the generation assertion's model.
func tamperAssertion(t testing.TB, signed []byte) []byte {
	return resealStore(t, signed, func(store *superbox) {
		a := store.children[0].child(labelAssertions).child(LabelGeneration)
		a.content = bytes.Replace(a.content, []byte("shapes"), []byte("shapez"), 1)
		a.payload = nil
	})
}

// withAlg rewrites the COSE protected header's alg (the signature is
// kept, so it no longer matches either).
func withAlg(t testing.TB, signed []byte, alg int) []byte {
	return resealStore(t, signed, func(store *superbox) {
		sig := store.children[0].child(labelSignature)
		c, err := parseCOSE(sig.content)
		if err != nil {
			t.Fatal(err)
		}
		var prot map[int]cbor.RawMessage
		if err := cbor.Unmarshal(c.protected, &prot); err != nil {
			t.Fatal(err)
		}
		prot[headerAlg], _ = cbor.Marshal(alg)
		p, _ := encMode.Marshal(prot)
		sig.content, _ = encMode.Marshal(cbor.Tag{Number: coseSign1Tag, Content: []any{p, map[int]any{}, nil, c.signature}})
		sig.payload = nil
	})
}

// withDataHashAlg rewrites the data hash assertion's algorithm and signs
// the claim again with s, so only the unknown algorithm is wrong.
func withDataHashAlg(t testing.TB, signed []byte, alg string, s *Signer) []byte {
	return resealStore(t, signed, func(store *superbox) {
		m := store.children[0]
		a := m.child(labelAssertions).child(labelDataHash)
		var dh dataHash
		if err := cbor.Unmarshal(a.content, &dh); err != nil {
			t.Fatal(err)
		}
		dh.Alg = alg
		a.content, _ = encMode.Marshal(dh)
		a.payload = nil
		resign(t, m, s)
	})
}

// resign updates the assertion hashes of manifest m's claim and signs it
// again with s.
func resign(t testing.TB, m *superbox, s *Signer) {
	cl := m.child(labelClaimV2)
	var c claim
	if err := cbor.Unmarshal(cl.content, &c); err != nil {
		t.Fatal(err)
	}
	for i, ref := range c.CreatedAssertions {
		label, _ := assertionLabel(ref.URL)
		c.CreatedAssertions[i].Hash = assertionHash(m.child(labelAssertions).child(label))
	}
	var err error
	if cl.content, err = encMode.Marshal(c); err != nil {
		t.Fatal(err)
	}
	sig := m.child(labelSignature)
	if sig.content, err = s.sign(cl.content, false); err != nil {
		t.Fatal(err)
	}
	cl.payload, sig.payload = nil, nil
}

func TestVerifyDetectsChanges(t *testing.T) {
	pki := newTestPKI(t)
	s := pki.signer(t)
	for _, in := range [][]byte{testPNG(t), testJPEG(t, true)} {
		signed, err := Sign(in, testManifest(0), s)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := DetectFormat(in)
		tests := []struct {
			name string
			data []byte
			want string
		}{
			{"pixels", tamperPixels(t, signed), StatusDataHashMismatch},
			{"signature", tamperSignature(t, signed), StatusClaimSignatureMismatch},
			{"assertion", tamperAssertion(t, signed), StatusHashedURIMismatch},
			{"unknown signature alg", withAlg(t, signed, 999), StatusAlgorithmUnsupported},
			{"unknown hash alg", withDataHashAlg(t, signed, "md5", s), StatusAlgorithmUnsupported},
		}
		for _, tt := range tests {
			t.Run(string(f)+" "+tt.name, func(t *testing.T) {
				r, err := Verify(tt.data, VerifyOptions{Roots: pki.roots()})
				if err != nil {
					t.Fatal(err)
				}
				if r.Valid() || r.State() != "invalid" {
					t.Errorf("state %q, want invalid", r.State())
				}
				if !slices.Contains(codes(r.Failure), tt.want) {
					t.Errorf("failures %v, want %s among them", codes(r.Failure), tt.want)
				}
				if tt.name == "unknown hash alg" && !slices.Contains(codes(r.Success), StatusClaimSignatureValidated) {
					t.Errorf("re-signed claim: successes %v, want %s", codes(r.Success), StatusClaimSignatureValidated)
				}
			})
		}
	}
}

func TestVerifyUntrustedChain(t *testing.T) {
	pki, other := newTestPKI(t), newTestPKI(t)
	signed, err := Sign(testPNG(t), testManifest(0), pki.signer(t))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Verify(signed, VerifyOptions{Roots: other.roots()})
	if err != nil {
		t.Fatal(err)
	}
	if r.State() != "valid" || r.Trusted {
		t.Errorf("state %q trusted %v, want valid and untrusted (another CA)", r.State(), r.Trusted)
	}
}

func TestVerifyBadFiles(t *testing.T) {
	pki := newTestPKI(t)
	pngIn, jpegIn := testPNG(t), testJPEG(t, false)
	signedPNG, _ := Sign(pngIn, testManifest(0), pki.signer(t))
	signedJPEG, _ := Sign(jpegIn, testManifest(0), pki.signer(t))
	var formatErr *FormatError
	tests := []struct {
		name    string
		data    []byte
		wantErr error // nil: want a *FormatError
	}{
		{"png without manifest", pngIn, ErrNoManifest},
		{"jpeg without manifest", jpegIn, ErrNoManifest},
		{"jpeg with another JUMBF box", withForeignJUMBF(jpegIn), ErrNoManifest},
		{"not an image", []byte("GIF89a..."), ErrUnsupportedFormat},
		{"empty", nil, ErrUnsupportedFormat},
		{"truncated png", signedPNG[:len(signedPNG)-20], nil},
		{"png cut inside the manifest", signedPNG[:200], nil},
		{"truncated jpeg", signedJPEG[:len(signedJPEG)-100], nil},
		{"jpeg cut inside the manifest", signedJPEG[:300], nil},
		{"png with bad crc", flipByte(signedPNG, 40), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Verify(tt.data, VerifyOptions{})
			if r != nil {
				t.Errorf("got a report %+v with error %v", r, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && !errors.As(err, &formatErr) {
				t.Errorf("err %v, want a *FormatError", err)
			}
		})
	}
	if _, err := Sign(pngIn[:100], testManifest(0), pki.signer(t)); !errors.As(err, &formatErr) {
		t.Errorf("Sign of a truncated PNG: %v, want a *FormatError", err)
	}
}

func flipByte(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0xff
	return out
}

func TestMalformedStore(t *testing.T) {
	// A caBX chunk whose content is not a JUMBF manifest store is an
	// invalid manifest, not an error.
	in := testPNG(t)
	out, _, err := pngEmbed(in, []byte("not jumbf at all"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Verify(out, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Valid() || !slices.Contains(codes(r.Failure), StatusClaimMalformed) {
		t.Errorf("failures %v, want %s", codes(r.Failure), StatusClaimMalformed)
	}
}

func TestLoadSignerErrors(t *testing.T) {
	pki := newTestPKI(t)
	p384 := mustKey(t, elliptic.P384())
	p384DER, _ := x509.MarshalECPrivateKey(p384)
	p384PEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: p384DER})
	otherDER, _ := x509.MarshalPKCS8PrivateKey(mustKey(t, elliptic.P256()))
	otherPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: otherDER})
	tests := []struct {
		name, key, chain, want string
	}{
		{"wrong curve", string(p384PEM), string(pki.Chain), "P-384"},
		{"key not the certificate's", string(otherPEM), string(pki.Chain), "not the key's"},
		{"no key", "garbage", string(pki.Chain), "no PRIVATE KEY"},
		{"no certificate", string(pki.Key), "garbage", "no CERTIFICATE"},
		{"bad certificate", string(pki.Key), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "certificate 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadSigner([]byte(tt.key), []byte(tt.chain))
			if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want ErrKey mentioning %q", err, tt.want)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	pki := newTestPKI(f)
	for _, in := range [][]byte{testPNG(f), testJPEG(f, true)} {
		signed, err := Sign(in, testManifest(0), pki.signer(f))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(signed)
		f.Add(signed[:len(signed)/2])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Verify(data, VerifyOptions{})
		if (r == nil) == (err == nil) {
			t.Fatalf("report %v and error %v: want exactly one", r, err)
		}
	})
}

// benchPNG is a w x h picture of noise (which compresses about as badly
// as a generated picture) as imagegen writes it.
func benchPNG(b *testing.B, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	var buf bytes.Buffer
	if err := imageio.EncodePNG(&buf, img, imageio.Metadata{JSON: `{"prompt":"x"}`}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkSign(b *testing.B) {
	pki := newTestPKI(b)
	s, m := pki.signer(b), testManifest(0)
	for _, size := range []int{64, 1024} {
		in := benchPNG(b, size, size)
		b.Run(fmt.Sprintf("png%d", size), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := Sign(in, m, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	pki := newTestPKI(b)
	for _, size := range []int{64, 1024} {
		signed, err := Sign(benchPNG(b, size, size), testManifest(0), pki.signer(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("png%d", size), func(b *testing.B) {
			b.SetBytes(int64(len(signed)))
			for b.Loop() {
				if _, err := Verify(signed, VerifyOptions{Roots: pki.roots()}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzVerifyStore fuzzes the manifest store itself (JUMBF, CBOR, COSE),
// wrapped in a PNG chunk with a right CRC so the fuzzer gets past it.
func FuzzVerifyStore(f *testing.F) {
	pki := newTestPKI(f)
	in := testPNG(f)
	signed, err := Sign(in, testManifest(0), pki.signer(f))
	if err != nil {
		f.Fatal(err)
	}
	store, _, err := findStore(PNG, signed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(store)
	f.Fuzz(func(t *testing.T, store []byte) {
		data, _, err := pngEmbed(in, store)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Verify(data, VerifyOptions{})
		if err != nil || r == nil {
			t.Fatalf("report %v, error %v: want a report", r, err)
		}
	})
}

func TestVerifyExtraExclusion(t *testing.T) {
	// A data hash with exclusions besides the manifest's gets an
	// informational note, as in c2pa-rs (which does not count it as a
	// failure either; Valid looks at Failure only).
	pki := newTestPKI(t)
	s := pki.signer(t)
	signed, err := Sign(testPNG(t), testManifest(0), s)
	if err != nil {
		t.Fatal(err)
	}
	_, where, _ := findStore(PNG, signed)
	extra := span{Start: where.Start + where.Length, Length: 10}
	edited := resealStore(t, signed, func(store *superbox) {
		m := store.children[0]
		a := m.child(labelAssertions).child(labelDataHash)
		var dh dataHash
		if err := cbor.Unmarshal(a.content, &dh); err != nil {
			t.Fatal(err)
		}
		dh.Exclusions = append(dh.Exclusions, extra)
		a.content, _ = encMode.Marshal(dh)
		a.payload = nil
		resign(t, m, s)
	})
	r, err := Verify(edited, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(codes(r.Informational), []string{StatusDataHashExtraExclusions}) {
		t.Errorf("informational %v, want %s", codes(r.Informational), StatusDataHashExtraExclusions)
	}
}
