/* window.h — attention inside square windows of a token-major map (Swin's shifted windows,
 * HAT-Net's local grid cells).
 *
 * Windows tile the (cyclically shifted) H x W grid row-major; inside a window tokens are
 * row-major too. The shift is never materialised: window token (iy, ix) of window (wy, wx) is
 * the map's token ((wy*ws + iy + shift) mod H, (wx*ws + ix + shift) mod W), which is what
 * torch.roll(x, -shift) followed by partitioning reads, and the result goes back to the same
 * token, which is what reversing and rolling back writes. Swin's -100 mask is rebuilt from the
 * three regions per axis of the rolled image ([0, H-ws), [H-ws, H-shift), [H-shift, H)), and
 * its relative position index from the window size; nothing of either is read from a file. */
#ifndef VIT_WINDOW_H
#define VIT_WINDOW_H

#include <stddef.h>

typedef struct vit_window_attn {
    int H, W, C, heads, ws, shift; /* H and W multiples of ws; 0 <= shift < ws */
    const float *bias_table;       /* [(2ws-1)^2, heads], or NULL for no relative bias */
    const int *rel_index;          /* [ws^4] from vit_window_rel_index, with bias_table */
} vit_window_attn;

/* idx[i*n + j] = (hi - hj + ws - 1) * (2ws - 1) + (wi - wj + ws - 1), n = ws*ws. */
void vit_window_rel_index(int ws, int *idx);

int vit_window_count(const vit_window_attn *wa);

/* Scratch floats one thread needs for vit_window_attention. */
size_t vit_window_scratch_floats(const vit_window_attn *wa);

/* Windows [w0, w1): qkv [H*W, 3C] (q | k | v, head h at columns h*d of each third, the fused
 * layout) -> out rows of the same tokens (head h at column h*d, row stride ldo). */
void vit_window_attention(const vit_window_attn *wa, const float *qkv, int w0, int w1,
                          float *scratch, float *out, int ldo);

#endif
