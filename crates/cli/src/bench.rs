pub fn bench(_raw: &[String]) -> anyhow::Result<()> { anyhow::bail!("not yet") }
