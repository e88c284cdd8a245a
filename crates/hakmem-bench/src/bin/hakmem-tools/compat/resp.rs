//! A minimal RESP (redis protocol) client: enough for SET/GET/LPUSH/HSET/... with pipelining.

use anyhow::{bail, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct Resp {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

#[derive(Debug, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Resp {
    pub fn connect(port: u16) -> Result<Resp> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(120)))?;
        Ok(Resp { w: s.try_clone()?, r: BufReader::with_capacity(1 << 16, s) })
    }

    fn encode(buf: &mut Vec<u8>, args: &[&[u8]]) {
        buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
    }

    fn line(&mut self) -> Result<String> {
        let mut l = String::new();
        if self.r.read_line(&mut l)? == 0 {
            bail!("redis closed the connection");
        }
        Ok(l.trim_end_matches(['\r', '\n']).to_string())
    }

    fn read(&mut self) -> Result<Reply> {
        let l = self.line()?;
        let (t, rest) = l.split_at(1.min(l.len()));
        Ok(match t {
            "+" => Reply::Simple(rest.into()),
            "-" => Reply::Error(rest.into()),
            ":" => Reply::Int(rest.parse()?),
            "$" => {
                let n: i64 = rest.parse()?;
                if n < 0 {
                    Reply::Bulk(None)
                } else {
                    let mut b = vec![0u8; n as usize + 2];
                    self.r.read_exact(&mut b)?;
                    b.truncate(n as usize);
                    Reply::Bulk(Some(b))
                }
            }
            "*" => {
                let n: i64 = rest.parse()?;
                if n < 0 {
                    Reply::Array(None)
                } else {
                    let mut v = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        v.push(self.read()?);
                    }
                    Reply::Array(Some(v))
                }
            }
            _ => bail!("bad RESP line {l:?}"),
        })
    }

    /// Send a batch of commands in one write, read all replies.
    pub fn pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) -> Result<Vec<Reply>> {
        let mut buf = Vec::new();
        for c in cmds {
            let refs: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
            Self::encode(&mut buf, &refs);
        }
        self.w.write_all(&buf)?;
        cmds.iter().map(|_| self.read()).collect()
    }

    pub fn cmd(&mut self, args: &[&str]) -> Result<Reply> {
        let c: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        Ok(self.pipeline(&[c])?.remove(0))
    }

    pub fn text(&mut self, args: &[&str]) -> Result<String> {
        match self.cmd(args)? {
            Reply::Bulk(Some(b)) => Ok(String::from_utf8_lossy(&b).into_owned()),
            Reply::Simple(s) => Ok(s),
            other => bail!("{args:?}: unexpected reply {other:?}"),
        }
    }
}
