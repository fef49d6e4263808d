#!/usr/bin/env python3
# A local receiver for Alertmanager (monitor.alertmanager.localReceiver), on
# the loopback only: every webhook notification POSTed to 127.0.0.1:WEBHOOK_PORT
# is appended to DIR/webhook.jsonl as one JSON line, and every e-mail delivered
# over SMTP to 127.0.0.1:SMTP_PORT to DIR/mail.jsonl (sender, recipients, subject,
# login, and the sha256 of the password it logged in with: never the password).
# Tests and demos read those files. Usage: alert-receiver.py DIR WEBHOOK_PORT SMTP_PORT
import base64
import hashlib
import json
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR, WEBHOOK_PORT, SMTP_PORT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lock = threading.Lock()


def append(name, record):
    with lock, open(f"{DIR}/{name}", "a") as f:
        f.write(json.dumps(record) + "\n")


class Webhook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        append("webhook.jsonl", json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP for Alertmanager: EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, QUIT."""

    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())

    def read(self):
        return self.rfile.readline().decode(errors="replace").rstrip("\r\n")

    def handle(self):
        mail = {"from": "", "to": [], "user": "", "password_sha256": ""}
        self.reply("220 localhost alert-receiver")
        while True:
            line = self.read()
            verb = line.split(" ", 1)[0].upper()
            if verb == "" or verb == "QUIT":
                self.reply("221 bye")
                return
            if verb in ("EHLO", "HELO"):
                self.reply("250-localhost")
                self.reply("250 AUTH PLAIN LOGIN")
            elif verb == "AUTH":
                parts = line.split()
                if parts[1].upper() == "PLAIN":
                    raw = parts[2] if len(parts) > 2 else (self.reply("334 ") or self.read())
                    _, user, password = base64.b64decode(raw).decode().split("\0", 2)
                else:
                    self.reply("334 VXNlcm5hbWU6")
                    user = base64.b64decode(self.read()).decode()
                    self.reply("334 UGFzc3dvcmQ6")
                    password = base64.b64decode(self.read()).decode()
                mail["user"] = user
                mail["password_sha256"] = hashlib.sha256(password.encode()).hexdigest()
                self.reply("235 authenticated")
            elif verb == "MAIL":
                mail["from"] = line.split(":", 1)[1].strip()
                self.reply("250 ok")
            elif verb == "RCPT":
                mail["to"].append(line.split(":", 1)[1].strip())
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 end with .")
                subject = ""
                while (data := self.read()) != ".":
                    if data.lower().startswith("subject:") and not subject:
                        subject = data.split(":", 1)[1].strip()
                mail["subject"] = subject
                append("mail.jsonl", dict(mail))
                mail["to"] = []
                self.reply("250 queued")
            else:
                self.reply("250 ok")


class SmtpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


smtp = SmtpServer(("127.0.0.1", SMTP_PORT), Smtp)
threading.Thread(target=smtp.serve_forever, daemon=True).start()
ThreadingHTTPServer(("127.0.0.1", WEBHOOK_PORT), Webhook).serve_forever()
