# The appliance's real build (internet access needed): Debian 12's generic
# cloud image booted in QEMU, packer/provision run in it over SSH (the same
# script packer/build-image runs offline, here with k3s and the container
# images), the disk exported as raw and turned into an OVA by packer/make-ova.
#
#   packer build -var deb=target/debian/ovaboot_0.1.0-1_amd64.deb \
#       -var k3s_sha256=<the k3s line of the release's sha256sum-amd64.txt> \
#       packer/appliance.pkr.hcl
#
# Run it from the repository's root (paths below are relative to it).

variable "deb" {
  type        = string
  description = "The ovaboot .deb to install (cargo deb)."
}

variable "contour_manifest" {
  type        = string
  default     = "../shared/contour/contour-v1.33.6.yaml"
  description = "The pinned Contour manifest (its sha256 is checked by provision)."
}

variable "k3s_version" {
  type    = string
  default = "v1.33.5+k3s1"
}

variable "k3s_sha256" {
  type        = string
  description = "sha256 of the k3s binary of k3s_version: the 'k3s' line of the release's sha256sum-amd64.txt. No default: it is never guessed."
}

variable "debian_image" {
  type    = string
  default = "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2"
}

variable "debian_image_checksum" {
  type    = string
  default = "file:https://cloud.debian.org/images/cloud/bookworm/latest/SHA512SUMS"
}

variable "output_dir" {
  type    = string
  default = "target/packer"
}

variable "accelerator" {
  type        = string
  default     = "kvm"
  description = "kvm where /dev/kvm exists, else tcg (slow)."
}

source "qemu" "appliance" {
  iso_url          = var.debian_image
  iso_checksum     = var.debian_image_checksum
  disk_image       = true
  format           = "raw"
  disk_size        = "20G"
  disk_interface   = "virtio"
  net_device       = "virtio-net"
  accelerator      = var.accelerator
  memory           = 4096
  cpus             = 2
  headless         = true
  output_directory = var.output_dir
  vm_name          = "appliance.raw"
  # cloud-init in the base image reads this seed: a build user for SSH only.
  cd_files         = ["packer/cloud-init/meta-data", "packer/cloud-init/user-data"]
  cd_label         = "cidata"
  ssh_username     = "packer"
  ssh_password     = "packer-build-only"
  ssh_timeout      = "15m"
  shutdown_command = "sudo systemctl poweroff"
}

build {
  sources = ["source.qemu.appliance"]

  provisioner "file" {
    sources     = [var.deb, var.contour_manifest, "packer/provision"]
    destination = "/tmp/"
  }

  provisioner "shell" {
    environment_vars = [
      "K3S_VERSION=${var.k3s_version}",
      "K3S_SHA256=${var.k3s_sha256}",
    ]
    execute_command = "sudo -E bash '{{ .Path }}'"
    inline = [
      "bash /tmp/provision --deb /tmp/${basename(var.deb)} --contour-manifest /tmp/${basename(var.contour_manifest)}",
      # The appliance is configured by ovaboot, not cloud-init; the build user goes too.
      "apt-get purge -y -qq cloud-init && rm -rf /etc/cloud /var/lib/cloud",
      "rm -f /etc/sudoers.d/90-cloud-init-users && passwd --lock packer && usermod --expiredate 1 packer",
      "rm -f /tmp/provision /tmp/*.deb /tmp/*.yaml",
    ]
  }

  post-processor "shell-local" {
    inline = [
      "packer/make-ova --disk ${var.output_dir}/appliance.raw --out ${var.output_dir}/appliance.ova",
    ]
  }
}
