//! The media-edge service binary.

fn main() -> anyhow::Result<()> {
    Ok(())
}
