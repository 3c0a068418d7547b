"""Reference masks for the annotation-format readers, made by the tools that
define the formats: pycocotools for COCO (the COCO API's annToMask, painted in
annotation order with crowd regions 255) and labelme for LabelMe (its own
shapes_to_label, which draws with PIL). Writes, under OUT (the tests' fixtures):

  coco/annotations/instances_{train,val}2017.json, coco/{train,val}2017/*.jpg
  coco/expected/NAME.png             grey label PNGs from pycocotools
  coco_polygons.json                 random polygons and pycocotools' RLE of each
  labelme/*.json, *.jpg, labels.txt  (one JSON carries its image as imageData)
  labelme/expected/NAME.png          grey label PNGs from labelme
  labelme_shapes.json                random shapes and labelme's mask of each (RLE)

Needs numpy, pillow, pycocotools, labelme; never run in CI.

    python3 scripts/gen_format_fixtures.py crates/fcn/tests/fixtures/formats
"""
import base64
import io
import json
import os
import sys

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from labelme.utils.shape import shape_to_mask, shapes_to_label

rng = np.random.default_rng(17)


def random_polygon(h, w, k, spread=1.1):
    """A star-shaped (often concave) polygon of k vertices, some outside the image."""
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    radii = rng.uniform(0.05, 0.5, k) * min(h, w) * spread
    xs = cx + radii * np.cos(angles)
    ys = cy + radii * np.sin(angles)
    return [round(float(v), 2) for p in zip(xs, ys) for v in p]


def save_image(path, h, w):
    pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def coco_split(root, split, sizes, first_id):
    images, annotations = [], []
    categories = [{"id": i, "name": n} for i, n in [(3, "cat"), (7, "dog"), (1, "bird"), (20, "car")]]
    folder = os.path.join(root, f"{split}2017")
    os.makedirs(folder, exist_ok=True)
    ann_id = first_id * 100
    for n, (h, w) in enumerate(sizes):
        image_id = first_id + n
        name = f"{image_id:012d}.jpg"
        save_image(os.path.join(folder, name), h, w)
        images.append({"id": image_id, "file_name": name, "height": h, "width": w})
        for k in range(6):
            ann_id += 1
            cat = categories[int(rng.integers(0, len(categories)))]["id"]
            kind = k % 3
            if kind == 0:
                seg = [random_polygon(h, w, int(rng.integers(3, 12))) for _ in range(int(rng.integers(1, 3)))]
            else:
                m = np.zeros((h, w), dtype=np.uint8)
                y0, x0 = int(rng.integers(0, h - 8)), int(rng.integers(0, w - 8))
                m[y0:y0 + int(rng.integers(4, h // 2)), x0:x0 + int(rng.integers(4, w // 2))] = 1
                rle = mask_utils.encode(np.asfortranarray(m))
                if kind == 1:
                    seg = {"counts": rle["counts"].decode(), "size": [h, w]}
                else:
                    decoded = mask_utils.decode(rle)
                    flat = decoded.flatten(order="F")
                    counts, value, run = [], 0, 0
                    for v in flat:
                        if v != value:
                            counts.append(run)
                            value, run = v, 0
                        run += 1
                    counts.append(run)
                    seg = {"counts": counts, "size": [h, w]}
            annotations.append({
                "id": ann_id, "image_id": image_id, "category_id": cat,
                "iscrowd": int(k == 5), "segmentation": seg,
                "area": 0, "bbox": [0, 0, 0, 0],
            })
    data = {"images": images, "annotations": annotations, "categories": categories}
    path = os.path.join(root, "annotations", f"instances_{split}2017.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f)
    expected = os.path.join(root, "expected")
    os.makedirs(expected, exist_ok=True)
    coco = COCO(path)
    labels = {c["id"]: i + 1 for i, c in enumerate(categories)}
    for img in images:
        out = np.zeros((img["height"], img["width"]), dtype=np.uint8)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]], iscrowd=None)):
            value = 255 if ann["iscrowd"] else labels[ann["category_id"]]
            out[coco.annToMask(ann) > 0] = value
        Image.fromarray(out).save(os.path.join(expected, img["file_name"].replace(".jpg", ".png")))


def coco_polygons(path):
    cases = []
    for i in range(300):
        h, w = int(rng.integers(8, 120)), int(rng.integers(8, 120))
        xy = random_polygon(h, w, int(rng.integers(3, 20)), spread=rng.uniform(0.2, 2.0))
        if i % 5 == 0:  # integer and half-pixel vertices, the edge cases of rounding
            xy = [round(v * 2) / 2 for v in xy]
        rle = mask_utils.merge(mask_utils.frPyObjects([xy], h, w))
        cases.append({"h": h, "w": w, "xy": xy, "counts": rle["counts"].decode()})
    with open(path, "w") as f:
        json.dump(cases, f)


LABELME_CLASSES = ["_background_", "cat", "dog", "road"]


def labelme_shapes(h, w):
    shapes = []
    kinds = ["polygon", "rectangle", "circle", "line", "linestrip", "point", "polygon"]
    for kind in kinds:
        cx, cy = float(rng.uniform(0, w)), float(rng.uniform(0, h))
        if kind == "polygon":
            xy = random_polygon(h, w, int(rng.integers(3, 10)))
            points = [[xy[i], xy[i + 1]] for i in range(0, len(xy), 2)]
        elif kind in ("rectangle", "circle", "line"):
            points = [[cx, cy], [float(rng.uniform(0, w)), float(rng.uniform(0, h))]]
        elif kind == "linestrip":
            points = [[float(rng.uniform(0, w)), float(rng.uniform(0, h))] for _ in range(4)]
        else:
            points = [[cx, cy]]
        points = [[round(x, 2), round(y, 2)] for x, y in points]
        label = LABELME_CLASSES[1 + int(rng.integers(0, 3))]
        shapes.append({"label": label, "points": points, "group_id": None, "shape_type": kind, "flags": {}})
    shapes[-1]["label"] = "__ignore__"
    return shapes


def labelme_folder(root):
    os.makedirs(os.path.join(root, "expected"), exist_ok=True)
    with open(os.path.join(root, "labels.txt"), "w") as f:
        f.write("__ignore__\n" + "\n".join(LABELME_CLASSES) + "\n")
    values = {"__ignore__": -1, **{n: i for i, n in enumerate(LABELME_CLASSES)}}
    for n, (h, w) in enumerate([(90, 120), (120, 80), (64, 64), (100, 150)]):
        name = f"img_{n}"
        image_path = os.path.join(root, f"{name}.jpg")
        save_image(image_path, h, w)
        shapes = labelme_shapes(h, w)
        embedded = n == 3
        data = None
        if embedded:
            with open(image_path, "rb") as f:
                data = base64.b64encode(f.read()).decode()
            os.remove(image_path)
        doc = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": f"{name}.jpg",
               "imageData": data, "imageHeight": h, "imageWidth": w}
        with open(os.path.join(root, f"{name}.json"), "w") as f:
            json.dump(doc, f, indent=1)
        cls, _ = shapes_to_label((h, w), shapes, values)
        Image.fromarray(cls.astype(np.uint8)).save(os.path.join(root, "expected", f"{name}.png"))


def labelme_cases(path):
    cases = []
    for i in range(300):
        h, w = int(rng.integers(8, 120)), int(rng.integers(8, 120))
        shape = labelme_shapes(h, w)[i % 6]
        m = shape_to_mask((h, w), shape["points"], shape["shape_type"])
        rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        cases.append({"h": h, "w": w, "shape": shape, "counts": rle["counts"].decode()})
    with open(path, "w") as f:
        json.dump(cases, f)


def main(out):
    coco_split(os.path.join(out, "coco"), "train", [(60, 80), (97, 131), (48, 64)], 1)
    coco_split(os.path.join(out, "coco"), "val", [(70, 50)], 100)
    coco_polygons(os.path.join(out, "coco_polygons.json"))
    labelme_folder(os.path.join(out, "labelme"))
    labelme_cases(os.path.join(out, "labelme_shapes.json"))


if __name__ == "__main__":
    main(sys.argv[1])
