//! Writes the fuzz seed tables (fuzz/seeds/table_*/) from the shared data's
//! first rows: `cargo run --release -p ratenet --example fuzz_seeds -- ../shared/data fuzz/seeds`.
use std::fs::File;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use arrow_ipc::CompressionType;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (data, out) = (std::path::Path::new(&args[1]), std::path::Path::new(&args[2]));
    let mut batches = Vec::new();
    for name in [
        "microns_1300/synapses_synthetic_1300.feather",
        "microns_1300/cell_info_1300.feather",
    ] {
        let r = arrow_ipc::reader::FileReader::try_new(File::open(data.join(name)).unwrap(), None).unwrap();
        let b = r.into_iter().next().unwrap().unwrap();
        let n = b.num_rows().min(12);
        // Without pandas' schema metadata, which only makes the seeds long.
        let schema = Arc::new(
            b.schema()
                .as_ref()
                .clone()
                .with_metadata(std::collections::HashMap::<String, String>::new()),
        );
        batches.push(RecordBatch::try_new(schema, b.slice(0, n).columns().to_vec()).unwrap());
    }
    // A small hand-made one with every widened type and nulls.
    let cols: Vec<(&str, ArrayRef)> = vec![
        (
            "pre_pt_root_id",
            Arc::new(Int64Array::from(vec![Some(1), Some(2), None, Some(864691134875730426)])),
        ),
        (
            "size",
            Arc::new(Float64Array::from(vec![Some(1.5), None, Some(f64::NAN), Some(-0.0)])),
        ),
        (
            "cell_type",
            Arc::new(StringArray::from(vec![Some("e"), Some(""), None, Some("i")])),
        ),
        (
            "proofread",
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(true)])),
        ),
    ];
    batches.push(RecordBatch::try_from_iter(cols).unwrap());
    let (ipc, pq) = (out.join("table_ipc"), out.join("table_parquet"));
    std::fs::create_dir_all(&ipc).unwrap();
    std::fs::create_dir_all(&pq).unwrap();
    for (i, b) in batches.iter().enumerate() {
        for (tag, c) in [
            ("plain", None),
            ("lz4", Some(CompressionType::LZ4_FRAME)),
            ("zstd", Some(CompressionType::ZSTD)),
        ] {
            let opts = IpcWriteOptions::default().try_with_compression(c).unwrap();
            let mut w = FileWriter::try_new_with_options(
                File::create(ipc.join(format!("{i}_{tag}.feather"))).unwrap(),
                &b.schema(),
                opts.clone(),
            )
            .unwrap();
            w.write(b).unwrap();
            w.finish().unwrap();
            if tag == "plain" {
                let mut w = StreamWriter::try_new_with_options(
                    File::create(ipc.join(format!("{i}_stream.arrows"))).unwrap(),
                    &b.schema(),
                    opts,
                )
                .unwrap();
                w.write(b).unwrap();
                w.finish().unwrap();
            }
        }
        for (tag, c) in [
            ("plain", Compression::UNCOMPRESSED),
            ("snappy", Compression::SNAPPY),
            ("zstd", Compression::ZSTD(ZstdLevel::default())),
        ] {
            let props = WriterProperties::builder().set_compression(c).build();
            let mut w = ArrowWriter::try_new(
                File::create(pq.join(format!("{i}_{tag}.parquet"))).unwrap(),
                b.schema(),
                Some(props),
            )
            .unwrap();
            w.write(b).unwrap();
            w.close().unwrap();
        }
    }
}
