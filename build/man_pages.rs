//! What each man page says beyond `--help`: a longer description, EXIT
//! STATUS, ENVIRONMENT, FILES, EXAMPLES and SEE ALSO. build.rs adds these
//! sections to the pages clap_mangen makes from src/cli.rs; it refuses to
//! build when a page here names no command, a command has no page here, or
//! SEE ALSO names a page that is not installed with ovaboot or systemd.
//!
//! Plain text: build.rs escapes it for roff.

/// The extra text of one page.
pub struct Page {
    /// `ovaboot`, or `ovaboot-<command>`.
    pub name: &'static str,
    /// Paragraphs after the one-line description clap gives.
    pub description: &'static [&'static str],
    /// (exit status, what it means); an empty status is a paragraph after the list.
    pub exit_status: &'static [(&'static str, &'static str)],
    /// (variable, what it does).
    pub environment: &'static [(&'static str, &'static str)],
    /// (path, what it is).
    pub files: &'static [(&'static str, &'static str)],
    /// (what it shows, the command lines).
    pub examples: &'static [(&'static str, &'static str)],
    /// Pages, as `name(section)`.
    pub see_also: &'static [&'static str],
}

/// Pages of other packages that SEE ALSO may name: systemd's, which the
/// package depends on, so they are there wherever ovaboot is.
pub const SYSTEM_PAGES: &[&str] = &["journalctl(1)", "systemctl(1)"];

const LOG: (&str, &str) = (
    "OVABOOT_LOG",
    "A tracing filter for the log, e.g. debug or ovaboot::cluster=debug. Also shows at once the warnings that commands printing only their result hold back until they succeed.",
);
const MANIFEST: (&str, &str) = (
    "OVABOOT_CONTOUR_MANIFEST",
    "The Contour release manifest to read instead of [contour] manifest, e.g. on a development machine. Its sha256 is checked all the same.",
);
const KUBECONFIG: (&str, &str) = (
    "KUBECONFIG",
    "The kubeconfig used when --kubeconfig and [kube] kubeconfig are not set, /etc/rancher/k3s/k3s.yaml does not appear and ovaboot does not run in a cluster.",
);

const CONFIG_FILE: (&str, &str) = (
    "/etc/ovaboot/ovaboot.toml",
    "The agent's config, read when --config is not given and the file exists; otherwise the built-in defaults apply.",
);
const MANIFEST_FILE: (&str, &str) = (
    "/usr/share/ovaboot/contour/contour-VERSION.yaml",
    "The pinned Contour release manifest ([contour] manifest), shipped in the appliance image.",
);
const K3S_KUBECONFIG: (&str, &str) = (
    "/etc/rancher/k3s/k3s.yaml",
    "k3s's kubeconfig, used when no other is named; at first boot ovaboot waits for k3s to write it.",
);
const STATE_FILE: (&str, &str) = (
    "/var/lib/ovaboot/state.json",
    "Where the last phase stands: phase, outcome, times, the error line, the URL and the certificate's fingerprint. Public data only.",
);
const COMPLETION_FILE: (&str, &str) = (
    "/var/lib/ovaboot/firstboot.json",
    "The completion record: written when first boot has finished; while it exists first boot does nothing and day 2 runs instead. Remove it to run first boot again.",
);
const DIGEST_FILES: (&str, &str) = (
    "/var/lib/ovaboot/properties.json, /var/lib/ovaboot/properties.key",
    "Keyed digests of the properties and of the TLS pair last applied, and the per-appliance key they are made with (both 0600; never a value). Day 2 compares with them.",
);
const BANNER_FILE: (&str, &str) = (
    "/etc/issue.d/ovaboot.issue",
    "The console banner agetty shows above every login prompt: the URL, the certificate's fingerprint and where first boot stands.",
);
const TLS_FILES: (&str, &str) = (
    "/etc/ovaboot/tls/tls.crt, /etc/ovaboot/tls/tls.key",
    "The appliance's certificate chain and its key (0600), as put into the TLS Secret.",
);
const XDS_FILES: (&str, &str) = (
    "/etc/ovaboot/tls/xds/{ca,contour,envoy}.{crt,key}",
    "The xDS CA and Contour's and envoy's pairs (keys 0600, folder 0700), as put into the Secrets contourcert and envoycert.",
);
const XDS_RECORD: (&str, &str) = (
    "/var/lib/ovaboot/xds.json",
    "What contourcert and envoycert were last given: fingerprints and dates, what was minted and why. Public data only.",
);

/// Most commands: a one-line error on stderr and one of these.
const EXIT_USUAL: &[(&str, &str)] = &[
    ("0", "Success."),
    (
        "1",
        "Something was not there or not ready yet: trying again may help. One error line on stderr.",
    ),
    (
        "2",
        "Bad input or a refusal: trying again cannot help. One error line on stderr, naming the property, config key, file or object at fault; nothing was changed.",
    ),
];

pub const PAGES: &[Page] = &[
    Page {
        name: "ovaboot",
        description: &[
            "ovaboot configures a VMware virtual appliance from the OVF properties the vSphere admin typed into the Deploy OVF Template wizard. At first boot it sets the host name, /etc/hosts, a static network, NTP, a proxy, root's password and SSH keys, and a TLS certificate (self-signed, or the admin's own); then it deploys the pinned Project Contour release into k3s, with envoy on the host's ports 80 and 443, the certificate as a kubernetes.io/tls Secret, and HTTPProxy routes to the appliance's services. It mints the xDS certificates Contour and envoy authenticate each other with, in place of the release's certgen Job. At later boots it applies the properties the admin changed, and a daily timer renews its self-signed certificate and the xDS certificates.",
            "Every step is a pure plan and an apply that makes the system match it: ovaboot render writes the plan to a folder, ovaboot firstboot applies the same plan. Every step is idempotent, so a run cut short is repaired by running it again.",
            "The package's systemd units run it: ovaboot-host.service (firstboot --phase host, before the network and k3s start) and ovaboot-cluster.service (firstboot --phase cluster, after k3s) at first boot; ovaboot-reconfigure.service and ovaboot-reconfigure-cluster.service (reconfigure) at every later boot; ovaboot-renew.timer daily.",
            "Each command has its own page, ovaboot-COMMAND(8). The documents in /usr/share/doc/ovaboot/ say more.",
        ],
        exit_status: &[
            ("0", "Success."),
            (
                "1",
                "Something was not there or not ready yet (no OVF environment found, the API server not answering, a wait past its deadline): trying again may help. The units restart on it.",
            ),
            (
                "2",
                "Bad input or a refusal (an invalid property or config key, a wrong manifest digest, a 4xx answer from the API server, a failed Job): trying again cannot help. The units do not restart on it.",
            ),
            (
                "3",
                "ovaboot reconfigure alone: it renewed a certificate that was due while a property change waits for the next boot (a pending: line says so).",
            ),
            (
                "",
                "On 1 and 2 the command prints one line on stderr, ovaboot: error: ..., naming what is at fault. ovaboot status is the exception: its exit status is its answer.",
            ),
        ],
        environment: &[LOG, MANIFEST, KUBECONFIG],
        files: &[
            CONFIG_FILE,
            MANIFEST_FILE,
            STATE_FILE,
            COMPLETION_FILE,
            DIGEST_FILES,
            BANNER_FILE,
            TLS_FILES,
            XDS_FILES,
            XDS_RECORD,
            (
                "/usr/share/doc/ovaboot/",
                "README.md and docs/: the OVF properties, the units, the configuration, day 2, the build and the tests.",
            ),
        ],
        examples: &[
            ("Where first boot stands:", "ovaboot status"),
            (
                "The properties vSphere delivered, checked, secrets redacted:",
                "ovaboot props",
            ),
            (
                "What the next boot would change after a vApp property was edited:",
                "ovaboot reconfigure --dry-run",
            ),
            (
                "First boot's log:",
                "journalctl -u ovaboot-host -u ovaboot-cluster",
            ),
        ],
        see_also: &[
            "ovaboot-props(8)",
            "ovaboot-render(8)",
            "ovaboot-apply(8)",
            "ovaboot-firstboot(8)",
            "ovaboot-status(8)",
            "ovaboot-reconfigure(8)",
            "ovaboot-images(8)",
            "journalctl(1)",
            "systemctl(1)",
        ],
    },
    Page {
        name: "ovaboot-props",
        description: &[
            "Checks the OVF properties exactly as ovaboot render and ovaboot firstboot would (host name, network against the running kernel's interface, proxy, credentials, and the admin's certificate against the host name, its key, its dates, its chain and what browsers require), writing and generating nothing, and refuses with the same line they would. Then it prints the transport that delivered the OVF environment and every property: secret values as <redacted>, proxy URLs with only the password masked.",
            "Without --ovf-env or --sample the OVF environment comes from the first transport that delivers one: guestinfo (VMware Tools), a CD-ROM labelled OVF ENV (ISO image), or QEMU fw_cfg. It reads the agent's config as the other commands do (--config FILE, else /etc/ovaboot/ovaboot.toml if present), never the Contour manifest. Invalid input prints nothing on stdout.",
        ],
        exit_status: &[
            ("0", "The properties are valid and were printed."),
            (
                "1",
                "No OVF environment was found, or its device could not be read yet.",
            ),
            (
                "2",
                "A property (or the config) is invalid: one line names it.",
            ),
        ],
        environment: &[LOG],
        files: &[
            CONFIG_FILE,
            (
                "/sys/firmware/qemu_fw_cfg/by_name/opt/ovaboot/ovf-env/raw",
                "The OVF environment handed over by QEMU's fw_cfg.",
            ),
            (
                "/sys/class/net/",
                "Where the interface a static address goes on is found.",
            ),
        ],
        examples: &[
            ("The properties of this appliance:", "ovaboot props"),
            (
                "A file's properties, as JSON:",
                "ovaboot props --ovf-env ovf-env.xml --json",
            ),
        ],
        see_also: &["ovaboot(8)", "ovaboot-render(8)"],
    },
    Page {
        name: "ovaboot-render",
        description: &[
            "Computes the whole first-boot plan and writes it to the folder --out names, changing nothing else: DIR/rootfs/PATH for every host file with its mode, DIR/manifests/NN-kind-name.yaml for every Kubernetes object in apply order (the TLS Secret 0600), and DIR/plan.json, a summary (host name, network, proxy URLs with the password masked, the certificate's source, fingerprint, names and dates, the credentials set, the host files and those to remove, Contour's version and images, the routes).",
            "--root is the system the plan starts from: its /etc/hosts, /etc/shadow and /etc/passwd, and the certificates a previous run installed (the TLS pair, the xDS CA and pairs), each kept when it still fits. A password needs a readable /etc/shadow under it: run as root, or give --root a copy. The network interface always comes from the running kernel. The folder is staged beside DIR and renamed into place, so on failure DIR stays absent or empty.",
        ],
        exit_status: EXIT_USUAL,
        environment: &[LOG, MANIFEST],
        files: &[
            CONFIG_FILE,
            MANIFEST_FILE,
            ("DIR/plan.json", "The plan's summary."),
            ("DIR/rootfs/", "Every host file first boot would write."),
            (
                "DIR/manifests/",
                "Every Kubernetes object, in apply order; ovaboot apply --from DIR applies them.",
            ),
        ],
        examples: &[
            (
                "The plan for the example environment built into ovaboot:",
                "ovaboot render --sample --out /tmp/ovaboot-plan",
            ),
            (
                "The plan for a given environment, on a machine without the appliance's manifest:",
                "OVABOOT_CONTOUR_MANIFEST=contour-v1.33.6.yaml \\\n  ovaboot render --ovf-env ovf-env.xml --out plan",
            ),
        ],
        see_also: &[
            "ovaboot(8)",
            "ovaboot-props(8)",
            "ovaboot-apply(8)",
            "ovaboot-firstboot(8)",
        ],
    },
    Page {
        name: "ovaboot-apply",
        description: &[
            "Reads DIR/manifests/*.yaml in file-name order, applies the objects with server-side apply (field manager ovaboot, forced) stage by stage and waits until each object is ready: Namespaces, then CRDs and a wait for each to be Established, then Secrets, everything else, HTTPProxies, and the readiness waits, each with its own deadline from [kube]. The objects of one stage are sent concurrently.",
            "It prints one progress line per object (created, changed or unchanged) and a summary. A CRD the apply record (the ConfigMap kube-system/ovaboot-applied) proves unchanged since ovaboot's own last apply is not sent again. Transient failures (refused connections, time-outs, 429, 5xx) are retried with backoff until [kube] request_retry_secs.",
        ],
        exit_status: &[
            ("0", "Every object was applied and is ready."),
            (
                "1",
                "The API server did not answer, a request kept failing transiently, or a wait passed its deadline (an HTTPProxy whose Service does not exist yet, say).",
            ),
            (
                "2",
                "The API server refused an object (4xx, or a body that does not fit its schema), a Job failed, an HTTPProxy is invalid, or the manifests or config are invalid.",
            ),
        ],
        environment: &[LOG, KUBECONFIG],
        files: &[
            (
                "DIR/manifests/",
                "The objects, as ovaboot render wrote them.",
            ),
            CONFIG_FILE,
            K3S_KUBECONFIG,
        ],
        examples: &[(
            "Render the example plan and apply it to a cluster:",
            "ovaboot render --sample --out /tmp/ovaboot-plan\novaboot apply --from /tmp/ovaboot-plan --kubeconfig ~/.kube/config",
        )],
        see_also: &["ovaboot(8)", "ovaboot-render(8)", "ovaboot-firstboot(8)"],
    },
    Page {
        name: "ovaboot-firstboot",
        description: &[
            "Builds the same plan as ovaboot render and applies it. The host phase writes every host file under --root (host name, /etc/hosts, the networkd and timesyncd files, the proxy environment and its drop-ins, the TLS pair, /etc/shadow, root's authorized_keys, the envoy-ports sysctl, the xDS CA and pairs) and, when the root is /, sets the kernel host name and settings. A cause that may pass (no OVF environment yet) is retried with backoff for [host] retry_timeout_secs. The cluster phase applies Contour (with its two xDS Secrets), the TLS Secret and the routes as ovaboot apply does, then writes the xDS record, the completion record and the properties' digests.",
            "ovaboot-host.service runs --phase host before the network and k3s start; ovaboot-cluster.service runs --phase cluster after k3s, restarted every 30 s while it exits 1. Once the completion record exists every phase says first boot already completed and does nothing. Each phase is idempotent and records its progress in the state file and on the console banner. --phase all does not reload systemd: run systemctl daemon-reload after it when it leaves /run/ovaboot/daemon-reload.",
        ],
        exit_status: &[
            (
                "0",
                "The phase is done, or first boot had already completed.",
            ),
            (
                "1",
                "Something may still come: no OVF environment found within [host] retry_timeout_secs, k3s or its API server not ready, a wait past its deadline.",
            ),
            (
                "2",
                "Bad input or a refusal: an invalid property or config key, a certificate that does not fit, an object the API server refused. Fix what the error names, then reboot.",
            ),
        ],
        environment: &[LOG, MANIFEST, KUBECONFIG],
        files: &[
            CONFIG_FILE,
            MANIFEST_FILE,
            K3S_KUBECONFIG,
            TLS_FILES,
            XDS_FILES,
            XDS_RECORD,
            COMPLETION_FILE,
            DIGEST_FILES,
            STATE_FILE,
            BANNER_FILE,
            (
                "/run/ovaboot/daemon-reload",
                "Left when a unit drop-in was written or removed; the unit reloads systemd when it is there.",
            ),
        ],
        examples: &[
            (
                "The host phase of the example environment on a scratch root:",
                "ovaboot firstboot --phase host --sample --root /tmp/target",
            ),
            (
                "How first boot went on this appliance:",
                "systemctl status ovaboot-host ovaboot-cluster\njournalctl -u ovaboot-host -u ovaboot-cluster",
            ),
        ],
        see_also: &[
            "ovaboot(8)",
            "ovaboot-status(8)",
            "ovaboot-render(8)",
            "ovaboot-reconfigure(8)",
            "journalctl(1)",
            "systemctl(1)",
        ],
    },
    Page {
        name: "ovaboot-status",
        description: &[
            "Reads the state file and the completion record under --root and judges them against this boot: done, not run, running, waiting to retry, pending (the host phase done, the cluster phase not started), interrupted (the boot it ran in ended before it finished), stopped (it gave up on a cause that may pass; the next boot runs it again), failed, or unknown (the state file cannot be read and first boot has not completed; the next phase to run rewrites it). It prints one screen (the status, the URL, the certificate's fingerprint, the last record, the error line, a record it could not read, what to do, and every certificate the appliance lives on, the serving one and the xDS CA and pairs, with its subject, notAfter and days left, marked when within its window or expired) or, with --json, one object with the keys status, phase, exit_code, advice, state, completion, unreadable and certificates. Every value from a record is shown escaped.",
        ],
        exit_status: &[
            ("0", "First boot is done."),
            (
                "1",
                "Not done yet: not run, running, waiting to retry, pending, interrupted, stopped or unknown.",
            ),
            (
                "2",
                "Failed: only the admin can fix it (a day-2 refusal included, and a completion record that cannot be read: remove it). Also --root naming no directory, the only case with an error line.",
            ),
        ],
        environment: &[LOG],
        files: &[
            STATE_FILE,
            COMPLETION_FILE,
            TLS_FILES,
            XDS_FILES,
            (
                "/etc/ovaboot/ovaboot.toml",
                "The certificates' warning windows ([tls] expiry_warning_days, [xds] renew_before_days and ca_renew_before_days), read under --root; without it, or when it does not load, the defaults.",
            ),
            (
                "/proc/sys/kernel/random/boot_id",
                "This boot's id, compared with the state file's to tell running from interrupted.",
            ),
        ],
        examples: &[
            ("One screen:", "ovaboot status"),
            (
                "Wait until first boot is done or has failed:",
                "while :; do ovaboot status >/dev/null; rc=$?; [ $rc -ne 1 ] && break; sleep 10; done",
            ),
        ],
        see_also: &["ovaboot(8)", "ovaboot-firstboot(8)", "journalctl(1)"],
    },
    Page {
        name: "ovaboot-reconfigure",
        description: &[
            "Day 2. After first boot has completed, the cluster part first renews the xDS certificates when due (a pair within [xds] renew_before_days of its end, expired or not valid yet; the CA within [xds] ca_renew_before_days, its key kept), writes them and applies contourcert and envoycert alone. Then it applies the OVF properties that changed since, with the same plan and apply code as ovaboot firstboot. It compares keyed digests of the properties with the recorded ones: unchanged, it does nothing; changed, it prints which properties changed. The host part writes the changed host files (network, NTP, proxy, credentials, the TLS pair) and removes files no longer wanted; the cluster part applies the TLS Secret alone when its pair changed, then records the new digests. Of Contour's objects only the two xDS Secrets are applied, and the routes never.",
            "The host name cannot change after first boot: k3s registered its node under it. A changed host name is refused and nothing from that run's properties is applied. The cluster part also refuses a property changed on the running VM whose host files are not written yet: they are written at the next boot.",
            "The self-signed certificate renews itself: when it comes within [tls] expiry_warning_days of its expiry, a run counts it as a change and makes a new one with the same names. The admin's own certificate is never replaced. ovaboot-reconfigure.service (--phase host) and ovaboot-reconfigure-cluster.service (--phase cluster) run it at every boot after first boot, and ovaboot-renew.timer runs --phase cluster daily.",
        ],
        exit_status: &[
            ("0", "The changes were applied, or nothing had changed."),
            (
                "1",
                "Something may still come: the OVF environment's device not readable yet, k3s or its API server not ready.",
            ),
            (
                "2",
                "Refused: no completion record, an invalid property, a changed host name, or a change on the running VM that needs a reboot. Nothing was applied.",
            ),
            (
                "3",
                "Done what could be done, and a property change waits for the next boot: the cluster part at runtime renewed a certificate that was due while a changed property's host files are not written yet. A pending: line says so; no error line.",
            ),
        ],
        environment: &[LOG, MANIFEST, KUBECONFIG],
        files: &[
            COMPLETION_FILE,
            DIGEST_FILES,
            TLS_FILES,
            XDS_FILES,
            XDS_RECORD,
            STATE_FILE,
            BANNER_FILE,
            CONFIG_FILE,
        ],
        examples: &[
            (
                "What the next boot would change, changing nothing:",
                "ovaboot reconfigure --dry-run",
            ),
            (
                "What day 2 did at this boot:",
                "journalctl -u ovaboot-reconfigure -u ovaboot-reconfigure-cluster",
            ),
            (
                "When the renewal runs next:",
                "systemctl list-timers ovaboot-renew.timer",
            ),
        ],
        see_also: &[
            "ovaboot(8)",
            "ovaboot-firstboot(8)",
            "ovaboot-status(8)",
            "journalctl(1)",
            "systemctl(1)",
        ],
    },
    Page {
        name: "ovaboot-images",
        description: &[
            "Reads the pinned Contour release manifest (checking its sha256) and prints the container images it runs, one per line, sorted, for the appliance image's build to pre-pull, so that first boot works without a registry.",
        ],
        exit_status: &[
            ("0", "The images were printed."),
            (
                "2",
                "The manifest is missing, its digest is not the pinned one, or the config is invalid.",
            ),
        ],
        environment: &[LOG, MANIFEST],
        files: &[CONFIG_FILE, MANIFEST_FILE],
        examples: &[(
            "The images of a manifest outside the appliance:",
            "OVABOOT_CONTOUR_MANIFEST=contour-v1.33.6.yaml ovaboot images",
        )],
        see_also: &["ovaboot(8)", "ovaboot-render(8)"],
    },
];
