package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegen/imagegen/shapes"
	"github.com/imagegen/imagegen/videoio"
)

// writeClips saves n held-out clips as NNN.npy and returns their captions.
func writeClips(t *testing.T, dir string, n int) []string {
	t.Helper()
	var captions []string
	for i := range n {
		s, err := shapes.MotionDataset{Split: shapes.HeldOut, Size: 32, Frames: 8}.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		c, err := clipOf(s.Frames)
		if err != nil {
			t.Fatal(err)
		}
		if err := videoio.Write(filepath.Join(dir, string(rune('a'+i))+".npy"), c); err != nil {
			t.Fatal(err)
		}
		captions = append(captions, s.Caption)
	}
	return captions
}

func TestCheckDir(t *testing.T) {
	t.Run("prompts.txt", func(t *testing.T) {
		dir := t.TempDir()
		captions := writeClips(t, dir, 6)
		if err := os.WriteFile(filepath.Join(dir, "prompts.txt"), []byte(strings.Join(captions, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := checkDir(dir, false)
		if err != nil {
			t.Fatal(err)
		}
		if r.Clips != 6 || r.Passed.Pass != 6 {
			t.Errorf("got %d clips, %v passed; want all 6 of the dataset's own clips", r.Clips, r.Passed)
		}
	})
	t.Run("NAME.txt, one caption wrong", func(t *testing.T) {
		dir := t.TempDir()
		captions := writeClips(t, dir, 3)
		captions[1] = "a green square moving from top to bottom" // not what clip b shows
		for i, c := range captions {
			if err := os.WriteFile(filepath.Join(dir, string(rune('a'+i))+".txt"), []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r, err := checkDir(dir, false)
		if err != nil {
			t.Fatal(err)
		}
		if r.Clips != 3 || r.Passed.Pass != 2 {
			t.Errorf("got %d clips, %v passed; want 2 of 3", r.Clips, r.Passed)
		}
	})
	t.Run("errors", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := checkDir(dir, false); err == nil || !strings.Contains(err.Error(), "no .npy") {
			t.Errorf("empty folder: got %v", err)
		}
		writeClips(t, dir, 2)
		if _, err := checkDir(dir, false); err == nil || !strings.Contains(err.Error(), "NAME.txt") {
			t.Errorf("no captions: got %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "prompts.txt"), []byte("a red circle\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := checkDir(dir, false); err == nil || !strings.Contains(err.Error(), "1 lines for 2 clips") {
			t.Errorf("short prompts.txt: got %v", err)
		}
	})
}
