"""Dataset specs: zero-shot classification (CLIP_benchmark / InternVL-fork names, layouts and sizes).

Sizes are the full test splits. Where the InternVL README reports a metric, its denominator confirms the size
(e.g. birdsnap acc1 0.72032520 = 1329/1845, voc2007 0.79974626 = 11977/14976 boxes); ``sun397``, ``eurosat`` and
``caltech101`` ignore ``--split`` in CLIP_benchmark and evaluate the whole dataset, so their size is the whole
dataset (108754, 27000, 9144 with the background class). Layouts are relative to ``--dataset_root`` after
templating; the README's roots are given in ``source``.
"""

from zsbench.datasets import register_dataset
from zsbench.datasets.base import CLASSIFICATION, DatasetSpec, RemoteFile

_IMAGENET_LANGS = ("en", "cn", "jp", "ar", "it")
_FORK_RAW = "https://raw.githubusercontent.com/OpenGVLab/InternVL/main/clip_benchmark/clip_benchmark/data"
_TV = "zsbench.datasets.loaders.torchvision_sets"

# Complete class-folder lists of the datasets read as class folders, in label order (torchvision: sorted folder
# names, uppercase first). Labels come from these names, so a copy with a folder missing keeps every other label
# (zsbench checks that each list lines up with the bundled class names: tests/reliability/test_datasets_folders.py).
_COUNTRY211_FOLDERS = tuple(
    """AD AE AF AG AI AL AM AO AQ AR AT AU AW AX AZ BA BB BD BE BF BG BH BJ BM BN BO BQ BR BS BT BW BY BZ CA CD CF CH CI
    CK CL CM CN CO CR CU CV CW CY CZ DE DK DM DO DZ EC EE EG ES ET FI FJ FK FO FR GA GB GD GE GF GG GH GI GL GM GP GR GS GT
    GU GY HK HN HR HT HU ID IE IL IM IN IQ IR IS IT JE JM JO JP KE KG KH KN KP KR KW KY KZ LA LB LC LI LK LR LT LU LV LY
    MA MC MD ME MF MG MK ML MM MN MO MQ MR MT MU MV MW MX MY MZ NA NC NG NI NL NO NP NZ OM PA PE PF PG PH PK PL PR PS PT
    PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SS SV SX SY SZ TG TH TJ TL TM TN TO TR TT TW TZ UA
    UG US UY UZ VA VE VG VI VN VU WS XK YE ZA ZM ZW""".split()  # noqa: SIM905 (a compact word list)
)
_CALTECH101_FOLDERS = tuple(
    """BACKGROUND_Google Faces Faces_easy Leopards Motorbikes accordion airplanes anchor ant barrel bass beaver
    binocular bonsai brain brontosaurus buddha butterfly camera cannon car_side ceiling_fan cellphone chair chandelier
    cougar_body cougar_face crab crayfish crocodile crocodile_head cup dalmatian dollar_bill dolphin dragonfly
    electric_guitar elephant emu euphonium ewer ferry flamingo flamingo_head garfield gerenuk gramophone grand_piano
    hawksbill headphone hedgehog helicopter ibis inline_skate joshua_tree kangaroo ketch lamp laptop llama lobster
    lotus mandolin mayfly menorah metronome minaret nautilus octopus okapi pagoda panda pigeon pizza platypus pyramid
    revolver rhino rooster saxophone schooner scissors scorpion sea_horse snoopy soccer_ball stapler starfish
    stegosaurus stop_sign strawberry sunflower tick trilobite umbrella watch water_lilly wheelchair wild_cat
    windsor_chair wrench yin_yang""".split()  # noqa: SIM905
)
_EUROSAT_FOLDERS = (
    "AnnualCrop",
    "Forest",
    "HerbaceousVegetation",
    "Highway",
    "Industrial",
    "Pasture",
    "PermanentCrop",
    "Residential",
    "River",
    "SeaLake",
)
_FER2013_FOLDERS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
_DTD_CLASSES = tuple(
    """banded blotchy braided bubbly bumpy chequered cobwebbed cracked crosshatched crystalline dotted fibrous flecked
    freckled frilly gauzy grid grooved honeycombed interlaced knitted lacelike lined marbled matted meshed paisley
    perforated pitted pleated polka-dotted porous potholed scaly smeared spiralled sprinkled stained stratified
    striped studded swirly veined waffled woven wrinkled zigzagged""".split()  # noqa: SIM905
)


def _cls(name: str, loader: str, size: int, layout: str, source: str, **kw) -> DatasetSpec:
    kw.setdefault("prompt_key", name)
    sizes = kw.pop("sizes", {}) | {"test": size}
    return register_dataset(
        DatasetSpec(name=name, task=CLASSIFICATION, loader=loader, sizes=sizes, layout=layout, source=source, **kw)
    )


# --- ImageNet family: OpenAI's 1000 class names (sorted-wnid order), 80 templates in en/cn/jp/ar/it ----------
_cls(
    "imagenet1k",
    "zsbench.datasets.loaders.imagenet:load_imagenet1k",
    50000,
    "ILSVRC2012_devkit_t12.tar.gz + ILSVRC2012_img_val.tar (read in place), or val/<wnid>/*.JPEG",
    "https://image-net.org (login required): ILSVRC2012_devkit_t12.tar.gz and ILSVRC2012_img_val.tar; "
    "README root ./data/imagenet-1k/",
    languages=_IMAGENET_LANGS,
    required=("ILSVRC2012_img_val.tar|val", "ILSVRC2012_devkit_t12.tar.gz|val"),
    license="ImageNet terms of access (non-commercial research)",
)
_cls(
    "imagenet-a",
    "zsbench.datasets.loaders.imagenet:load_imagenet_a",
    7500,
    "<wnid>/*.jpg (200 wnid folders, the extracted imagenet-a.tar)",
    "https://people.eecs.berkeley.edu/~hendrycks/imagenet-a.tar; README root ./data/imagenet-a/",
    languages=_IMAGENET_LANGS,
    required=("n01498041",),
    license="MIT",
)
_cls(
    "imagenet-r",
    "zsbench.datasets.loaders.imagenet:load_imagenet_r",
    30000,
    "<wnid>/*.jpg (200 wnid folders, the extracted imagenet-r.tar)",
    "https://people.eecs.berkeley.edu/~hendrycks/imagenet-r.tar; README root ./data/imagenet-r/",
    languages=_IMAGENET_LANGS,
    required=("n01443537",),
    license="MIT",
)
_cls(
    "imagenet-o",
    "zsbench.datasets.loaders.imagenet:load_imagenet_o",
    2000,
    "<wnid>/*.jpg (200 wnid folders, the extracted imagenet-o.tar)",
    "https://people.eecs.berkeley.edu/~hendrycks/imagenet-o.tar (CLIP_benchmark main's imagenet-o)",
    languages=_IMAGENET_LANGS,
    required=("n01443537",),
    license="MIT",
)
_cls(
    "imagenetv2",
    "zsbench.datasets.loaders.imagenet:load_imagenetv2",
    10000,
    "ImageNetV2-matched-frequency/<0..999>/*.jpeg (label = folder number)",
    "https://huggingface.co/datasets/vaishaal/ImageNetV2/resolve/main/imagenetv2-matched-frequency.tar.gz "
    "(extract and rename the folder to ImageNetV2-matched-frequency); README root ./data/imagenetv2/",
    languages=_IMAGENET_LANGS,
    required=("ImageNetV2-matched-frequency",),
    license="MIT",
)
_cls(
    "imagenet_sketch",
    "zsbench.datasets.loaders.imagenet:load_imagenet_sketch",
    50889,
    "<wnid>/*.JPEG (1000 wnid folders, the 'sketch' folder of ImageNet-Sketch.zip)",
    "https://drive.google.com/open?id=1Mj0i5HBthqH1p_yeXzsg22gZduvgoNeA (ImageNet-Sketch.zip); "
    "README root ./data/imagenet-sketch/",
    languages=_IMAGENET_LANGS,
    required=("n01440764",),
    license="MIT",
)
_cls(
    "objectnet",
    "zsbench.datasets.loaders.objectnet:load_objectnet",
    18574,
    "objectnet-1.0/images/<folder>/*.png + folder_to_objectnet_label.json, objectnet_to_imagenet_1k.json, "
    "pytorch_to_imagenet_2012_id.json, imagenet_to_label_2012_v2 (copied from objectnet-1.0/mappings/)",
    "https://objectnet.dev/downloads/objectnet-1.0.zip (zip password 'objectnetisatestset'); "
    "README root ./data/objectnet-1.0/",
    required=(
        "objectnet-1.0/images",
        "folder_to_objectnet_label.json",
        "objectnet_to_imagenet_1k.json",
        "pytorch_to_imagenet_2012_id.json",
        "imagenet_to_label_2012_v2",
    ),
    license="ObjectNet license (test only, no training)",
)

# --- torchvision on-disk formats, read directly ------------------------------------------------------------
_cls(
    "cifar10",
    f"{_TV}:load_cifar10",
    10000,
    "cifar-10-batches-py/{test_batch,data_batch_1..5,batches.meta}",
    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (extract in root); README root ./data/",
    splits=("test", "train"),
    sizes={"train": 50000},
    required=("cifar-10-batches-py/test_batch",),
)
_cls(
    "cifar100",
    f"{_TV}:load_cifar100",
    10000,
    "cifar-100-python/{test,train,meta}",
    "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz (extract in root); README root ./data/",
    splits=("test", "train"),
    sizes={"train": 50000},
    required=("cifar-100-python/test",),
)
_cls(
    "mnist",
    f"{_TV}:load_mnist",
    10000,
    "MNIST/raw/t10k-images-idx3-ubyte[.gz] + t10k-labels-idx1-ubyte[.gz]",
    "https://ossci-datasets.s3.amazonaws.com/mnist/ (torchvision MNIST layout); README root ./data/",
    splits=("test", "train"),
    sizes={"train": 60000},
    required=("MNIST/raw/t10k-images-idx3-ubyte|MNIST/raw/t10k-images-idx3-ubyte.gz",),
)
_cls(
    "stl10",
    f"{_TV}:load_stl10",
    8000,
    "stl10_binary/{test_X.bin,test_y.bin,class_names.txt}",
    "https://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz (extract in root); README root ./data/",
    required=("stl10_binary/test_X.bin", "stl10_binary/test_y.bin", "stl10_binary/class_names.txt"),
)
_cls(
    "caltech101",
    f"{_TV}:load_caltech101",
    9144,
    "caltech101/101_ObjectCategories/<category>/image_*.jpg (102 folders incl. BACKGROUND_Google; split ignored)",
    "https://data.caltech.edu/records/mzrjq-6wc02 (caltech-101.zip -> 101_ObjectCategories.tar.gz, extract into "
    "root/caltech101/); README root ./data/",
    required=("caltech101/101_ObjectCategories",),
    class_folders=_CALTECH101_FOLDERS,
)
_cls(
    "sun397",
    f"{_TV}:load_sun397",
    108754,
    "SUN397/ClassName.txt + SUN397/<l>/<class>[/<sub>]/sun_*.jpg (whole dataset; split ignored)",
    "http://vision.princeton.edu/projects/2010/SUN/SUN397.tar.gz (extract in root); README root ./data/",
    required=("SUN397/ClassName.txt",),
)
_cls(
    "fgvc_aircraft",
    f"{_TV}:load_fgvc_aircraft",
    3333,
    "fgvc-aircraft-2013b/data/{variants.txt,images_variant_test.txt,images/*.jpg}",
    "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz; README root ./data/",
    required=("fgvc-aircraft-2013b/data/variants.txt", "fgvc-aircraft-2013b/data/images_variant_test.txt"),
)
_cls(
    "country211",
    f"{_TV}:load_country211",
    21100,
    "country211/test/<ISO code>/*.jpg",
    "https://openaipublic.azureedge.net/clip/data/country211.tgz (extract in root); README root ./data/",
    required=("country211/test",),
    class_folders=_COUNTRY211_FOLDERS,
)
_cls(
    "cars",
    f"{_TV}:load_cars",
    8041,
    "stanford_cars/{devkit/cars_meta.mat,cars_test_annos_withlabels.mat,cars_test/*.jpg}",
    "Stanford Cars (original site is gone; torchvision documents mirrors, e.g. Kaggle "
    "'jessicali9530/stanford-cars-dataset' + cars_test_annos_withlabels.mat); README root ./data/",
    required=("stanford_cars/devkit/cars_meta.mat", "stanford_cars/cars_test_annos_withlabels.mat"),
)
_cls(
    "dtd",
    f"{_TV}:load_dtd",
    1880,
    "dtd/dtd/{labels/test1.txt,images/<class>/*.jpg}",
    "https://www.robots.ox.ac.uk/~vgg/data/dtd/download/dtd-r1.0.1.tar.gz (extract into root/dtd/); "
    "README root ./data/",
    required=("dtd/dtd/labels/test1.txt",),
    class_folders=_DTD_CLASSES,
)
_cls(
    "eurosat",
    f"{_TV}:load_eurosat",
    27000,
    "eurosat/2750/<Class>/*.jpg (whole dataset; split ignored)",
    "https://huggingface.co/datasets/torchgeo/eurosat/resolve/main/EuroSAT.zip (extract into root/eurosat/); "
    "README root ./data/",
    required=("eurosat/2750",),
    class_folders=_EUROSAT_FOLDERS,
)
_cls(
    "fer2013",
    f"{_TV}:load_fer2013",
    7178,
    "test/<emotion>/*.jpg (Kaggle msambare/fer2013 layout)",
    "kaggle datasets download -d msambare/fer2013 (unzip into root); README root ./data/fer2013",
    splits=("test", "train"),
    sizes={"train": 28709},
    required=("test",),
    class_folders=_FER2013_FOLDERS,
)
_cls(
    "food101",
    f"{_TV}:load_food101",
    25250,
    "food-101/{meta/test.json,images/<class>/*.jpg}",
    "http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz (extract in root); README root ./data/",
    required=("food-101/meta/test.json",),
)
_cls(
    "gtsrb",
    f"{_TV}:load_gtsrb",
    12630,
    "gtsrb/{GT-final_test.csv,GTSRB/Final_Test/Images/*.ppm}",
    "https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/ (GTSRB_Final_Test_Images.zip + "
    "GTSRB_Final_Test_GT.zip, extracted into root/gtsrb/); README root ./data/",
    required=("gtsrb/GT-final_test.csv", "gtsrb/GTSRB/Final_Test/Images"),
)
_cls(
    "pets",
    f"{_TV}:load_pets",
    3669,
    "oxford-iiit-pet/{annotations/test.txt,images/*.jpg}",
    "https://www.robots.ox.ac.uk/~vgg/data/pets/data/{images,annotations}.tar.gz (extract into "
    "root/oxford-iiit-pet/); README root ./data/",
    required=("oxford-iiit-pet/annotations/test.txt",),
)
_cls(
    "flowers",
    f"{_TV}:load_flowers",
    6149,
    "flowers-102/{jpg/image_<id:05d>.jpg,imagelabels.mat,setid.mat} (torchvision Flowers102; test = setid tstid)",
    "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ 102flowers.tgz (extract into root/flowers-102/) + "
    "imagelabels.mat + setid.mat (CLIP_benchmark main's flowers; vtab/flowers is the TFDS version, catalog/vtab.py)",
    splits=("test", "val", "train"),
    sizes={"train": 1020, "val": 1020},
    required=("flowers-102/setid.mat", "flowers-102/imagelabels.mat", "flowers-102/jpg"),
    license="Oxford 102 Flowers: research use (Nilsback & Zisserman 2008)",
)
_cls(
    "renderedsst2",
    f"{_TV}:load_renderedsst2",
    1821,
    "rendered-sst2/test/{negative,positive}/*.png",
    "https://openaipublic.azureedge.net/clip/data/rendered-sst2.tgz (extract in root); README root ./data/",
    required=("rendered-sst2/test",),
)

# --- other families ------------------------------------------------------------------------------------------
_cls(
    "birdsnap",
    "zsbench.datasets.loaders.birdsnap:load_birdsnap",
    1845,
    "species.txt + test_images_valid.txt (header 'path', then <species_dir>/<file>.jpg) + <species_dir>/*.jpg",
    "Birdsnap images via its get_birdsnap.py (http://thomasberg.org/), test list from the InternVL fork "
    "(download=True fetches it); README root ./data/birdsnap/",
    files=(
        RemoteFile(
            "test_images_valid.txt",
            f"{_FORK_RAW}/birdsnap/test_images_valid.txt",
            "0a4f8e146b6beda73234e900044c9f5e3f02de33861a5bf5a3102073974e79a0",
        ),
    ),
    required=("species.txt", "test_images_valid.txt"),
)
_cls(
    "voc2007",
    "zsbench.datasets.loaders.voc:load_voc2007",
    14976,
    "VOCdevkit/VOC2007/{JPEGImages,Annotations,ImageSets/Main/aeroplane_test.txt} (one sample per box, cropped)",
    "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/ VOCtrainval_06-Nov-2007.tar + VOCtest_06-Nov-2007.tar "
    "(extract in root); README root ./data/",
    splits=("test", "train"),
    required=("VOCdevkit/VOC2007/ImageSets/Main/aeroplane_test.txt",),
)
_cls(
    "voc2007_multilabel",
    "zsbench.datasets.loaders.voc:load_voc2007_multilabel",
    4952,
    "VOCdevkit/VOC2007/{JPEGImages,Annotations,ImageSets/Main/aeroplane_test.txt} (multi-hot over 20 classes)",
    "as voc2007",
    multilabel=True,
    splits=("test", "train"),
    required=("VOCdevkit/VOC2007/ImageSets/Main/aeroplane_test.txt",),
)
_cls(
    "dummy",
    "zsbench.datasets.loaders.dummy:load_dummy",
    1,
    "none: one 224x224 image held in memory (CLIP_benchmark's Dummy: 1 image, label 0, 2 classes)",
    "built in (CLIP_benchmark main's smoke-test dataset); nothing to download",
    builtin=True,
    license="CC0-1.0 (generated)",
)
