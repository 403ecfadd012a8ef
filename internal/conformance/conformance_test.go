package conformance

import "testing"

func TestRefsAndExtract(t *testing.T) {
	var c struct {
		Scheduler string `json:"scheduler"`
		Steps     int    `json:"steps"`
		Image     Array  `json:"image"`
	}
	Case(t, "sd1/euler", &c)
	if c.Scheduler != "EulerDiscreteScheduler" || c.Steps != 10 {
		t.Fatalf("got %q %d, want EulerDiscreteScheduler 10", c.Scheduler, c.Steps)
	}
	if n := 1 * 32 * 32 * 3; len(c.Image.Data) != n {
		t.Fatalf("image has %d values, want %d", len(c.Image.Data), n)
	}
	dir := Dir(t, "sd1-tiny")
	for _, f := range []string{"model_index.json", "unet/model.onnx", "tokenizer/vocab.json"} {
		if _, err := Extract(Root(), "sd1-tiny"); err != nil {
			t.Fatal(err)
		}
		if !exists(dir + "/" + f) {
			t.Errorf("%s missing after extraction", f)
		}
	}
}
