# Reference for prompt.Emphasize: AUTOMATIC1111's EmphasisOriginal
# (modules/sd_emphasis.py) transcribed from torch to plain Python lists:
#   original_mean = z.mean()
#   z = z * multipliers.reshape(multipliers.shape + (1,)).expand(z.shape)
#   new_mean = z.mean()
#   z = z * (original_mean / new_mean)
# Run: python3 testdata/emphasis_ref.py > testdata/emphasis.json
import json, math

def emphasize(z, mult):
    n = sum(len(r) for r in z)
    original_mean = sum(sum(r) for r in z) / n
    z = [[v * m for v in row] for row, m in zip(z, mult)]
    new_mean = sum(sum(r) for r in z) / n
    return [[v * (original_mean / new_mean) for v in row] for row in z]

cases = []
for seq, dim, seed in [(4, 3, 1), (77, 8, 2)]:
    z = [[math.sin(seed * 7.3 + t * 1.7 + d * 0.31) + 0.2 for d in range(dim)] for t in range(seq)]
    mult = [1.0] + [round(1.1 ** ((t % 5) - 2), 6) for t in range(1, seq - 1)] + [1.0]
    cases.append({"z": z, "weights": mult, "want": emphasize(z, mult)})
print(json.dumps(cases))
