package lora

import "testing"

// SDXL's UNet (layers_per_block 2; attention on down levels 1, 2 and up
// levels 0, 1): pairs as kohya's SDXL LoRAs and diffusers name them.
func TestSGMToDiffusersSDXL(t *testing.T) {
	sdxl := NewUNetLayout(2,
		[]string{"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"},
		[]string{"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"})
	for _, tc := range []struct{ sgm, want string }{
		{"input_blocks_4_1_transformer_blocks_0_attn1_to_q", "down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q"},
		{"input_blocks_8_1_proj_in", "down_blocks_2_attentions_1_proj_in"},
		{"input_blocks_1_0_in_layers_2", "down_blocks_0_resnets_0_conv1"},
		{"input_blocks_5_0_skip_connection", "down_blocks_1_resnets_1_conv_shortcut"},
		{"input_blocks_3_0_op", "down_blocks_0_downsamplers_0_conv"},
		{"middle_block_1_transformer_blocks_9_ff_net_2", "mid_block_attentions_0_transformer_blocks_9_ff_net_2"},
		{"middle_block_2_emb_layers_1", "mid_block_resnets_1_time_emb_proj"},
		{"output_blocks_0_1_transformer_blocks_0_attn2_to_k", "up_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"},
		{"output_blocks_5_1_proj_out", "up_blocks_1_attentions_2_proj_out"},
		{"output_blocks_2_2_conv", "up_blocks_0_upsamplers_0_conv"},
		{"output_blocks_8_0_out_layers_3", "up_blocks_2_resnets_2_conv2"},
		{"time_embed_0", "time_embedding_linear_1"},
		{"label_emb_0_2", "add_embedding_linear_2"},
	} {
		got, ok := sdxl.Diffusers(tc.sgm)
		if !ok || got != tc.want {
			t.Errorf("%s: got %q (%v), want %q", tc.sgm, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"input_blocks_1_1_proj_in", "output_blocks_8_2_conv", "down_blocks_0_resnets_0_conv1", "input_blocks_40_1_proj_in"} {
		if got, ok := sdxl.Diffusers(bad); ok {
			t.Errorf("%s: got %q, want no match", bad, got)
		}
	}
}
