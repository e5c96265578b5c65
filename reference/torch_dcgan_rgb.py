"""The DCGAN of `latent train dcgan` as latent shapes it for 3x32x32 images, in PyTorch, on an image folder.

G: z [N,100] -> ConvT(100,128,k8) BN ReLU (8x8) -> ConvT(128,64,k4,s2,p1) BN ReLU (16x16) -> ConvT(64,3,k4,s2,p1) tanh.
D: Conv(3,64,k4,s2,p1) LeakyReLU(0.2) (16x16) -> Conv(64,128,k4,s2,p1) BN LeakyReLU(0.2) (8x8) -> Conv(128,1,k8) logit.
Init, loss and Adam settings as torch_dcgan.py. Reads FOLDER/train/<class>/*.png (what `latent fetch shapes --dest
FOLDER` writes), pixels scaled to [-1, 1], channel-major like latent. Prints the mean D(x) and D(G(z)) of each epoch,
to compare with a latent run's metrics.jsonl (train.d_real, train.d_fake), and writes 32 samples as a PNG grid.

    python reference/torch_dcgan_rgb.py FOLDER [SEED] [EPOCHS] [OUT.png]    # needs torch, numpy, pillow
"""
import glob, os, sys, time
import numpy as np
import torch
from torch import nn, optim
import torch.nn.functional as F
from PIL import Image

torch.manual_seed(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
torch.set_num_threads(1)
root = sys.argv[1]
classes = sorted(os.listdir(os.path.join(root, "train")))
files = sorted(f for c in classes for f in glob.glob(os.path.join(root, "train", c, "*.png")))
x = np.stack([np.asarray(Image.open(f).convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255.0 for f in files])
x = torch.from_numpy(x * 2 - 1).reshape(len(files), -1)
print("data", x.shape, flush=True)
NZ = 100
G = nn.Sequential(nn.Unflatten(1, (NZ, 1, 1)),
    nn.ConvTranspose2d(NZ, 128, 8, 1, 0, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
    nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
    nn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False), nn.Tanh(), nn.Flatten(1))
D = nn.Sequential(nn.Unflatten(1, (3, 32, 32)),
    nn.Conv2d(3, 64, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
    nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
    nn.Conv2d(128, 1, 8, 1, 0, bias=False), nn.Flatten(1))
def init(m):
    n = m.__class__.__name__
    if "Conv" in n: nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in n: nn.init.normal_(m.weight, 1.0, 0.02); nn.init.zeros_(m.bias)
G.apply(init); D.apply(init)
oG = optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999)); oD = optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 10
for epoch in range(1, epochs + 1):
    perm = torch.randperm(len(x)); dr = df = n = 0; t = time.time()
    for i in range(0, len(x) - 127, 128):
        real = x[perm[i:i + 128]]
        z = torch.randn(128, NZ); fake = G(z)
        lr, lf = D(real), D(fake.detach())
        ld = F.binary_cross_entropy_with_logits(lr, torch.ones_like(lr)) + F.binary_cross_entropy_with_logits(lf, torch.zeros_like(lf))
        oD.zero_grad(); ld.backward(); oD.step()
        lg = D(fake); g = F.binary_cross_entropy_with_logits(lg, torch.ones_like(lg))
        oG.zero_grad(); g.backward(); oG.step()
        dr += torch.sigmoid(lr).mean().item(); df += torch.sigmoid(lf).mean().item(); n += 1
    print(f"epoch {epoch} D(x) {dr/n:.3f} D(G(z)) {df/n:.3f} d_loss {ld.item():.3f} g_loss {g.item():.3f} ({time.time()-t:.0f}s)", flush=True)
G.eval()
with torch.no_grad():
    s = ((G(torch.randn(32, NZ)).reshape(32, 3, 32, 32) + 1) / 2).clamp(0, 1)
grid = s.reshape(4, 8, 3, 32, 32).permute(0, 3, 1, 4, 2).reshape(128, 256, 3).numpy()
Image.fromarray((grid * 255).astype(np.uint8)).resize((512, 256), Image.NEAREST).save(sys.argv[4] if len(sys.argv) > 4 else "torch-samples.png")
