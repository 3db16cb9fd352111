# Computes the expected bytes in BlockQuantizerTests (run once with /usr/bin/python3 + numpy; not run by the tests).
# Reference for MatMulNBits packing, following onnxruntime's matmul_nbits_quantizer.py (DefaultWeightOnlyQuantizer:
# zero-pad K to whole blocks) and MLAS BlockwiseQuantizer::quantizeAndTranspose (range2scale / range2scalezp, roundf).
import numpy as np
f32 = np.float32
def roundf(x):  # C roundf: half away from zero, on the exact float32 value
    x = float(x); return float(np.sign(x) * np.floor(abs(x) + 0.5))
def quant(B, bits, bs, sym):
    K, N = B.shape
    kb = (K + bs - 1) // bs
    Bp = np.zeros((kb * bs, N), dtype=f32); Bp[:K] = B
    levels = (1 << bits) - 1; mid = 1 << (bits - 1)
    blob = bs * bits // 8
    packed = np.zeros((N, kb, blob), dtype=np.uint8)
    scales = np.zeros(N * kb, dtype=f32)
    zpc = (kb + 1) // 2 if bits == 4 else kb
    zps = np.zeros(N * zpc, dtype=np.uint8)
    for j in range(N):
        zp_list = []
        for b in range(kb):
            blk = Bp[b*bs:(b+1)*bs, j]
            mn = f32(blk.min()); mx = f32(blk.max())
            if sym:
                m = mx if abs(mx) > abs(mn) else mn
                s = f32(-m) / f32(mid); zp = mid
            else:
                mn = min(mn, f32(0)); mx = max(mx, f32(0))
                s = f32(mx - mn) / f32(levels)
                zf = f32(f32(0) - mn / s) if s != 0 else mn
                zp = 0 if zf < 0 else levels if zf > levels else int(roundf(zf))
            scales[j*kb + b] = s
            r = f32(1) / s if s != 0 else f32(0)
            codes = [int(min(max(roundf(f32(f32(v) * r) + f32(zp)), 0), levels)) for v in blk]
            if bits == 8: packed[j, b] = codes
            else: packed[j, b] = [(codes[2*l] & 15) | (codes[2*l+1] << 4) for l in range(blob)]
            zp_list.append(zp)
        if not sym:
            if bits == 8: zps[j*kb:(j+1)*kb] = zp_list
            else:
                for p in range(zpc):
                    lo = zp_list[2*p]; hi = zp_list[2*p+1] if 2*p+1 < kb else mid
                    zps[j*zpc + p] = (lo & 15) | (hi << 4)
    return packed, scales, (None if sym else zps)
def weight(K, N, zero_col):
    B = np.zeros((K, N), dtype=f32)
    for i in range(K):
        for j in range(N):
            B[i, j] = f32(((i * 37 + j * 11 + 5) % 29) - 14) / f32(7) if j != zero_col else f32(0)
    return B
cases = [("4-bit symmetric", 64, 3, 4, 32, True, 2), ("4-bit asymmetric", 64, 3, 4, 32, False, 2),
         ("4-bit asymmetric, K padded", 40, 2, 4, 16, False, -1), ("8-bit symmetric", 32, 2, 8, 16, True, -1),
         ("8-bit asymmetric", 32, 2, 8, 16, False, -1)]
for name, K, N, bits, bs, sym, zc in cases:
    p, s, z = quant(weight(K, N, zc), bits, bs, sym)
    print(f'[TestCase({K}, {N}, {bits}, {bs}, {str(sym).lower()}, {zc}, "{p.tobytes().hex().upper()}", "{s.tobytes().hex().upper()}", "{"" if z is None else z.tobytes().hex().upper()}", TestName = "{name}")]')
