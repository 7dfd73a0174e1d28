//! A real IMAP server on loopback for tests: Debian's Dovecot, started
//! with a configuration of its own in a temporary folder (one user,
//! plain-text login, Maildir) and stopped when dropped. Messages are put
//! in and read back with Python's imaplib, as another mail client would.
//! Dovecot runs mail processes as the `mail` user, so the tests that use
//! it run as root, as CI does.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

pub const USER: &str = "bounces";
pub const PASSWORD: &str = "a password for the bounce mailbox";

pub struct ImapServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl ImapServer {
    pub async fn start() -> ImapServer {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let root = dir.path().display().to_string();
        for sub in ["mail", "run/state"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let config = format!(
            "protocols = imap\n\
             listen = 127.0.0.1\n\
             base_dir = {root}/run\n\
             state_dir = {root}/run/state\n\
             log_path = {root}/dovecot.log\n\
             ssl = no\n\
             disable_plaintext_auth = no\n\
             auth_mechanisms = plain login\n\
             first_valid_uid = 1\n\
             mail_location = maildir:{root}/mail/%u\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {root}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid=mail gid=mail home={root}/mail/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n  chroot =\n}}\n\
             service anvil {{\n  chroot =\n}}\n"
        );
        std::fs::write(dir.path().join("dovecot.conf"), config).unwrap();
        std::fs::write(
            dir.path().join("passwd"),
            format!("{USER}:{{PLAIN}}{PASSWORD}\n"),
        )
        .unwrap();
        let chown = Command::new("chown")
            .args(["-R", "mail:mail"])
            .arg(dir.path().join("mail"))
            .status()
            .expect("chown runs");
        assert!(
            chown.success(),
            "the mail folder must belong to Dovecot's mail user (run as root)"
        );
        let child = Command::new(dovecot())
            .arg("-F")
            .arg("-c")
            .arg(dir.path().join("dovecot.conf"))
            .spawn()
            .expect("Dovecot starts (Debian's dovecot-imapd; .ci/run installs it)");
        // Owned at once, so a failed start below still stops it.
        let server = ImapServer { port, dir, child };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "Dovecot did not listen: {}",
            std::fs::read_to_string(server.dir.path().join("dovecot.log")).unwrap_or_default()
        );
    }

    /// Puts messages in the inbox, as a mail host delivering them would.
    pub fn append(&self, messages: &[String]) {
        let files: Vec<PathBuf> = messages
            .iter()
            .enumerate()
            .map(|(n, message)| {
                let path = self.dir.path().join(format!("in-{n}.eml"));
                std::fs::write(&path, message).unwrap();
                path
            })
            .collect();
        let output = Command::new("python3")
            .arg("-c")
            .arg(
                "import imaplib, sys\n\
                 m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))\n\
                 m.login(sys.argv[2], sys.argv[3])\n\
                 for path in sys.argv[4:]:\n    \
                     m.append('INBOX', None, None, open(path, 'rb').read())\n\
                 m.logout()\n",
            )
            .arg(self.port.to_string())
            .args([USER, PASSWORD])
            .args(&files)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Each message left in the inbox: its subject and flags.
    pub fn inbox(&self) -> Vec<(String, String)> {
        let output = Command::new("python3")
            .arg("-c")
            .arg(
                "import imaplib, sys, email\n\
                 m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))\n\
                 m.login(sys.argv[2], sys.argv[3])\n\
                 m.select('INBOX')\n\
                 for num in m.search(None, 'ALL')[1][0].split():\n    \
                     typ, data = m.fetch(num, '(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])')\n    \
                     flags = data[0][0].decode()\n    \
                     subject = email.message_from_bytes(data[0][1])['Subject']\n    \
                     print(f'{subject}\\t{flags}')\n\
                 m.logout()\n",
            )
            .arg(self.port.to_string())
            .args([USER, PASSWORD])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .map(|(subject, flags)| (subject.to_string(), flags.to_string()))
            .collect()
    }
}

fn dovecot() -> PathBuf {
    ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("dovecot"))
}

impl Drop for ImapServer {
    fn drop(&mut self) {
        // SIGTERM lets Dovecot's master stop its children too.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
