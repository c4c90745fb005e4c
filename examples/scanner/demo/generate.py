#!/usr/bin/env python3
"""Writes the scanner's demo estate: estate.json and estate-fixed.json.

Run from anywhere: `python3 examples/scanner/demo/generate.py`. The output is
deterministic (seeded), so re-running it changes nothing unless this script
changes. estate.json is a fictional company's AWS and Azure estate with a mix
of misconfigurations; estate-fixed.json is the same estate a week later:
about a third of the misconfigurations fixed, a few resources deleted, a few
new ones (one of them misconfigured).

AWS attribute documents follow pacbot-aws's documented shapes
(pacbot-aws/src/shapes.md). Azure documents follow the ARM resource JSON
(`properties.…`) and are to be aligned with pacbot-azure once it documents
its shapes.
"""

import copy
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261123)

AWS_ACCOUNTS = {"111122223333": "production", "444455556666": "staging"}
AWS_REGIONS = ["us-east-1", "eu-west-1"]
AZ_SUBS = {
    "5f0c8a1e-7c2d-4b7a-9a55-0b3c1d2e4f60": "production",
    "9a7d3c2b-1e4f-4a6b-8c0d-2f1e3d4c5b6a": "development",
}
AZ_LOCATIONS = ["westeurope", "eastus"]
TEAMS = ["payments", "web", "data", "platform", "identity", "search"]
COST_CENTERS = {"payments": "CC-1001", "web": "CC-1002", "data": "CC-1003",
                "platform": "CC-1004", "identity": "CC-1005", "search": "CC-1006"}

OLD = "2025-02-03T09:15:00Z"      # long ago: older than any age threshold
OLDER = "2024-06-11T16:40:00Z"
RECENT = "2026-10-30T08:00:00Z"


def chance(p):
    return rng.random() < p


def tags_for(team, env, quality):
    """Tags with realistic gaps: quality 1.0 = complete, lower = more often missing."""
    tags = {}
    if chance(quality):
        tags["Owner"] = f"{team}-team@example.com" if chance(0.93) else team.upper()
    if chance(quality + 0.05):
        tags["Environment"] = env
    if chance(quality - 0.05):
        tags["CostCenter"] = COST_CENTERS[team]
    tags["Team"] = team
    return tags


def aws_asset(account, region, kind, rid, attrs, tags, name=None):
    a = {"id": {"provider": "aws", "account": account, "region": region, "kind": kind, "resource_id": rid},
         "attributes": attrs, "tags": tags}
    if name:
        a["name"] = name
    return a


def az_asset(sub, location, kind, rg, provider_type, name, props, tags, extra=None):
    rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{provider_type}/{name}"
    attrs = {"id": rid, "name": name, "type": provider_type, "location": location,
             "resourceGroup": rg, "properties": props}
    if extra:
        attrs.update(extra)
    return {"id": {"provider": "azure", "account": sub, "region": location, "kind": kind, "resource_id": rid},
            "name": name, "attributes": attrs, "tags": tags}


def hexid(n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def sg_rule(protocol, lo, hi, cidr=None, group=None, owner=None):
    return {"protocol": protocol, "from_port": lo, "to_port": hi, "cidr": cidr,
            "ipv6": bool(cidr and ":" in cidr), "group_id": group, "group_owner_id": owner if group else None,
            "prefix_list_id": None, "description": None}


def aws_estate():
    assets = []
    for account, env in AWS_ACCOUNTS.items():
        prod = env == "production"
        quality = 0.9 if prod else 0.7
        # Account-wide documents.
        assets.append(aws_asset(account, "global", "aws.iam.account_summary", account, {
            "root_mfa_enabled": prod, "root_access_keys_present": not prod,
            "summary": {"users": 12, "groups": 3, "roles": 5, "policies": 3, "mfa_devices": 6,
                        "mfa_devices_in_use": 6, "account_mfa_enabled": int(prod),
                        "account_access_keys_present": int(not prod)}}, {}))
        assets.append(aws_asset(account, "global", "aws.iam.password_policy", account, {
            "present": True, "minimum_password_length": 14 if prod else 8, "require_symbols": True,
            "require_numbers": True, "require_uppercase_characters": True,
            "require_lowercase_characters": True, "allow_users_to_change_password": True,
            "expire_passwords": prod, "max_password_age": 90 if prod else None,
            "password_reuse_prevention": 24 if prod else None, "hard_expiry": False}, {}))
        assets.append(aws_asset(account, "global", "aws.s3.account_settings", account, {
            "public_access_block": {"block_public_acls": True, "ignore_public_acls": True,
                                    "block_public_policy": True, "restrict_public_buckets": True} if prod else None},
            {}))
        # IAM users.
        for i in range(12):
            team = TEAMS[i % len(TEAMS)]
            user = f"{team}-{['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'oscar'][i]}"
            console = i % 3 != 2
            keys = []
            if i % 4 == 0:
                keys.append({"access_key_id": "AKIA" + hexid(16).upper(), "status": "Active", "created": OLDER,
                             "last_used": OLD, "last_used_service": "s3", "last_used_region": "us-east-1"})
            elif i % 4 == 1:
                keys.append({"access_key_id": "AKIA" + hexid(16).upper(), "status": "Inactive", "created": OLDER,
                             "last_used": None, "last_used_service": None, "last_used_region": None})
            assets.append(aws_asset(account, "global", "aws.iam.user", user, {
                "user_name": user, "user_id": "AIDA" + hexid(16).upper(),
                "arn": f"arn:aws:iam::{account}:user/{user}", "path": "/", "create_date": OLDER,
                "password_enabled": console, "password_last_used": OLD if console else None,
                "password_last_changed": OLD if console else None,
                "mfa_active": console and (i % 5 != 1),
                "mfa_devices": [f"arn:aws:iam::{account}:mfa/{user}"] if console and i % 5 != 1 else [],
                "access_keys": keys, "groups": ["admins"] if i < 2 else ["developers"],
                "attached_policies": [], "inline_policies": [], "permissions_boundary_arn": None},
                tags_for(team, env, quality), name=user))
        for role in ["app", "ci-deploy", "audit", "backup", "lambda-exec"]:
            assets.append(aws_asset(account, "global", "aws.iam.role", role, {
                "role_name": role, "role_id": "AROA" + hexid(16).upper(), "arn": f"arn:aws:iam::{account}:role/{role}",
                "path": "/", "create_date": OLDER, "description": None, "max_session_duration": 3600,
                "assume_role_policy": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}]},
                "attached_policies": [], "inline_policies": [], "instance_profile_arns": [],
                "last_used": OLD, "last_used_region": "us-east-1", "permissions_boundary_arn": None},
                {"Owner": "platform-team@example.com", "Environment": env}, name=role))

        for region in AWS_REGIONS:
            assets.append(aws_asset(account, region, "aws.ec2.account_settings", region,
                                    {"ebs_encryption_by_default": prod and region == "us-east-1"}, {}))
            vpc = "vpc-" + hexid(8)
            assets.append(aws_asset(account, region, "aws.ec2.vpc", vpc, {
                "vpc_id": vpc, "cidr_block": "10.0.0.0/16", "ipv6_cidr_blocks": [], "is_default": False,
                "state": "available", "owner_id": account, "instance_tenancy": "default",
                "internet_gateway_ids": ["igw-" + hexid(8)],
                "flow_logs": [{"flow_log_id": "fl-" + hexid(8), "status": "ACTIVE", "traffic_type": "ALL"}]
                if prod else []}, {"Environment": env, "Owner": "platform-team@example.com"}, name=f"{env}-{region}"))
            subnets = []
            for s in range(3):
                sid = "subnet-" + hexid(8)
                subnets.append(sid)
                public = s == 0
                assets.append(aws_asset(account, region, "aws.ec2.subnet", sid, {
                    "subnet_id": sid, "vpc_id": vpc, "cidr_block": f"10.0.{s * 16}.0/20", "ipv6_cidr_blocks": [],
                    "availability_zone": f"{region}{'abc'[s]}", "state": "available", "default_for_az": False,
                    "map_public_ip_on_launch": public, "route_table_id": "rtb-" + hexid(8),
                    "route_table_explicit": True, "routes_to_internet_gateway": public},
                    {"Environment": env}))
            # Security groups.
            groups = []
            for g, (gname, rules) in enumerate([
                ("web", [sg_rule("tcp", 443, 443, "0.0.0.0/0"), sg_rule("tcp", 80, 80, "0.0.0.0/0")]),
                ("bastion", [sg_rule("tcp", 22, 22, "0.0.0.0/0" if not prod or region == "eu-west-1" else "203.0.113.0/24")]),
                ("db-main", [sg_rule("tcp", 5432, 5432, "10.0.0.0/16")]),
                ("db-legacy", [sg_rule("tcp", 3306, 3306, "10.0.0.0/16"), sg_rule("tcp", 3306, 3306, "0.0.0.0/0")]),
                ("windows-jump", [sg_rule("tcp", 3389, 3389, "0.0.0.0/0" if not prod else "198.51.100.0/24")]),
                ("all-open-debug", [sg_rule("-1", 0, 65535, "0.0.0.0/0"), sg_rule("-1", 0, 65535, "::/0")]),
                ("internal", [sg_rule("tcp", 0, 65535, None, "sg-internal", account)]),
                ("default", []),
            ]):
                if gname == "all-open-debug" and prod and region == "us-east-1":
                    continue
                gid = "sg-" + hexid(8)
                groups.append((gid, gname))
                assets.append(aws_asset(account, region, "aws.ec2.security_group", gid, {
                    "group_id": gid, "group_name": gname, "description": f"{gname} servers", "vpc_id": vpc,
                    "owner_id": account, "is_default": gname == "default", "ingress": rules,
                    "egress": [sg_rule("-1", 0, 65535, "0.0.0.0/0")],
                    "network_interface_count": 0 if gname in ("all-open-debug", "db-legacy") else rng.randint(1, 9),
                    "referenced_by": []}, {"Environment": env, "Team": "platform"}, name=gname))
            web_sg = groups[0][0]
            # Instances and their volumes.
            for i in range(9 if prod else 6):
                team = TEAMS[(i + len(region)) % len(TEAMS)]
                iid = "i-0" + hexid(16)
                stopped = i == 5
                vols = []
                for v in range(1 + (i % 2)):
                    vid = "vol-0" + hexid(16)
                    vols.append(vid)
                    encrypted = not (i % 4 == 3 and v == 0) and not (not prod and i % 3 == 0)
                    assets.append(aws_asset(account, region, "aws.ec2.volume", vid, {
                        "volume_id": vid, "volume_type": "gp3", "size_gib": 8 if v == 0 else 100, "iops": 3000,
                        "state": "in-use", "encrypted": encrypted,
                        "kms_key_id": f"arn:aws:kms:{region}:{account}:key/{hexid(8)}" if encrypted else None,
                        "snapshot_id": None, "availability_zone": f"{region}a", "create_time": OLD,
                        "attachments": [{"instance_id": iid, "device": "/dev/xvda" if v == 0 else "/dev/sdf",
                                         "state": "attached", "delete_on_termination": v == 0}]},
                        tags_for(team, env, quality)))
                name = f"{team}-{env[:4]}-{i:02d}"
                public = i < 2
                assets.append(aws_asset(account, region, "aws.ec2.instance", iid, {
                    "instance_id": iid, "instance_type": rng.choice(["t3.micro", "m6i.large", "c6i.xlarge", "r6g.large"]),
                    "image_id": "ami-" + hexid(8),
                    "state": {"name": "stopped", "code": 80} if stopped else {"name": "running", "code": 16},
                    "state_transition_reason": "User initiated (2025-03-01 10:00:00 GMT)" if stopped else None,
                    "state_transition_time": "2025-03-01T10:00:00Z" if stopped else None,
                    "launch_time": OLD, "public_ip": f"54.{rng.randint(1, 250)}.{rng.randint(1, 250)}.{i + 10}" if public else None,
                    "public_dns_name": None, "private_ip": f"10.0.{i}.{rng.randint(10, 250)}", "ipv6_addresses": [],
                    "vpc_id": vpc, "subnet_id": subnets[0 if public else 1],
                    "security_group_ids": [web_sg] if public else [groups[2][0]],
                    "iam_instance_profile_arn": f"arn:aws:iam::{account}:instance-profile/app",
                    "key_name": "ops", "platform": None, "monitoring": "disabled",
                    "metadata_options": {"http_tokens": "optional" if i % 3 == 1 else "required",
                                         "http_endpoint": "enabled", "http_put_response_hop_limit": 1},
                    "volume_ids": vols, "network_interface_ids": ["eni-" + hexid(8)]},
                    tags_for(team, env, quality), name=name))
            # Unattached volumes, snapshots, addresses.
            for u in range(2):
                vid = "vol-0" + hexid(16)
                assets.append(aws_asset(account, region, "aws.ec2.volume", vid, {
                    "volume_id": vid, "volume_type": "gp2", "size_gib": 500, "iops": 1500, "state": "available",
                    "encrypted": u == 0, "kms_key_id": None, "snapshot_id": None,
                    "availability_zone": f"{region}b", "create_time": OLDER, "attachments": []},
                    tags_for("data", env, quality - 0.2)))
            for s in range(4):
                sid = "snap-0" + hexid(16)
                public = not prod and s == 0
                assets.append(aws_asset(account, region, "aws.ec2.snapshot", sid, {
                    "snapshot_id": sid, "volume_id": "vol-0" + hexid(16), "volume_size_gib": 100,
                    "state": "completed", "encrypted": s % 2 == 0, "kms_key_id": None, "owner_id": account,
                    "description": "nightly backup", "start_time": OLD,
                    "create_volume_permissions": [{"group": "all", "user_id": None}] if public else [],
                    "public": public}, tags_for("data", env, quality)))
            for e in range(2):
                eid = "eipalloc-" + hexid(8)
                associated = e == 0
                assets.append(aws_asset(account, region, "aws.ec2.address", eid, {
                    "allocation_id": eid, "public_ip": f"3.{rng.randint(1, 250)}.{rng.randint(1, 250)}.{e + 1}",
                    "domain": "vpc", "associated": associated,
                    "association_id": "eipassoc-" + hexid(8) if associated else None,
                    "instance_id": None, "network_interface_id": None, "private_ip": None},
                    {"Environment": env}))
            # Buckets.
            for b in range(7 if prod else 5):
                team = TEAMS[b % len(TEAMS)]
                bname = f"acme-{env}-{region}-{team}-{['assets', 'logs', 'exports', 'backups', 'www', 'ml', 'tmp'][b]}"
                public_acl = (bname.endswith("-www") and region == "us-east-1") or (not prod and b == 2)
                public_policy = bname.endswith("-www")
                grants = [{"grantee": {"type": "CanonicalUser", "uri": None, "id": hexid(64), "display_name": None,
                                       "email": None}, "permission": "FULL_CONTROL"}]
                if public_acl:
                    grants.append({"grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers",
                                               "id": None, "display_name": None, "email": None}, "permission": "READ"})
                policy = None
                if public_policy:
                    policy = {"Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
                        "Resource": [f"arn:aws:s3:::{bname}/*"]}]}
                assets.append(aws_asset(account, region, "aws.s3.bucket", bname, {
                    "name": bname, "arn": f"arn:aws:s3:::{bname}", "creation_date": OLDER,
                    "acl": {"owner_id": hexid(64), "grants": grants}, "policy": policy,
                    "policy_is_public": public_policy,
                    "public_access_block": None if public_acl or public_policy else {
                        "block_public_acls": True, "ignore_public_acls": True,
                        "block_public_policy": True, "restrict_public_buckets": True},
                    "encryption": None if b % 4 == 3 else {"rules": [{"sse_algorithm": "aws:kms" if prod else "AES256",
                                                                      "kms_master_key_id": None,
                                                                      "bucket_key_enabled": prod}]},
                    "versioning": {"status": "Enabled" if (prod and b % 3 != 2) else ("Suspended" if b % 2 else None),
                                   "mfa_delete": None},
                    "logging": {"target_bucket": f"acme-{env}-{region}-platform-logs", "target_prefix": bname + "/"}
                    if prod and b != 1 else None,
                    "website": {"index_document": "index.html", "error_document": None,
                                "redirect_all_requests_to": None} if bname.endswith("-www") else None},
                    tags_for(team, env, quality), name=bname))
    return assets


def azure_estate():
    assets = []
    for sub, env in AZ_SUBS.items():
        prod = env == "production"
        quality = 0.88 if prod else 0.65
        for location in AZ_LOCATIONS:
            rg = f"rg-{env}-{location}"
            for n in range(6 if prod else 4):
                team = TEAMS[(n + 2) % len(TEAMS)]
                name = f"st{env[:4]}{location[:4]}{team[:4]}{n}"
                assets.append(az_asset(sub, location, "azure.storage.account", rg,
                                       "Microsoft.Storage/storageAccounts", name, {
                    "supportsHttpsTrafficOnly": not (n == 3 and not prod),
                    "minimumTlsVersion": "TLS1_2" if prod or n % 2 == 0 else "TLS1_0",
                    "allowBlobPublicAccess": n == 1,
                    "allowSharedKeyAccess": True,
                    "networkAcls": {"defaultAction": "Deny" if prod and n != 1 else "Allow", "bypass": "AzureServices",
                                    "ipRules": [], "virtualNetworkRules": []},
                    "encryption": {"keySource": "Microsoft.Storage",
                                   "services": {"blob": {"enabled": True}, "file": {"enabled": True}}},
                    "provisioningState": "Succeeded"}, tags_for(team, env, quality),
                    {"sku": {"name": "Standard_GRS" if prod else "Standard_LRS"}, "kind": "StorageV2"}))
            nsgs = []
            for n, (nname, rules) in enumerate([
                ("web", [("allow-https", "Inbound", "Allow", "Tcp", "*", "443")]),
                ("ssh", [("allow-ssh", "Inbound", "Allow", "Tcp", "Internet" if not prod or location == "eastus" else "10.1.0.0/16", "22")]),
                ("rdp", [("allow-rdp", "Inbound", "Allow", "Tcp", "*" if not prod else "10.1.0.0/16", "3389")]),
                ("db", [("allow-sql", "Inbound", "Allow", "Tcp", "VirtualNetwork", "1433"),
                        ("deny-all", "Inbound", "Deny", "*", "*", "*")]),
                ("legacy", [("any-any", "Inbound", "Allow", "*", "0.0.0.0/0", "*")] if not prod else
                 [("allow-https", "Inbound", "Allow", "Tcp", "*", "443")]),
            ]):
                name = f"nsg-{env[:4]}-{location}-{nname}"
                sec = []
                for p, (rname, direction, access, proto, src, port) in enumerate(rules):
                    sec.append({"name": rname, "properties": {
                        "priority": 100 + p * 10, "direction": direction, "access": access, "protocol": proto,
                        "sourceAddressPrefix": src, "sourcePortRange": "*", "destinationAddressPrefix": "*",
                        "destinationPortRange": port}})
                nsgs.append(name)
                assets.append(az_asset(sub, location, "azure.network.nsg", rg,
                                       "Microsoft.Network/networkSecurityGroups", name,
                                       {"securityRules": sec, "provisioningState": "Succeeded"},
                                       {"Environment": env, "Team": "platform",
                                        "Owner": "platform-team@example.com"}))
            for n in range(8 if prod else 5):
                team = TEAMS[n % len(TEAMS)]
                name = f"vm-{env[:4]}-{location[:4]}-{team}-{n}"
                linux = n % 4 != 3
                os_disk = f"{name}-osdisk"
                disk_props = {"diskSizeGB": 64, "diskState": "Attached",
                              "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
                              "networkAccessPolicy": "DenyAll" if prod else "AllowAll",
                              "osType": "Linux" if linux else "Windows"}
                assets.append(az_asset(sub, location, "azure.compute.disk", rg, "Microsoft.Compute/disks",
                                       os_disk, disk_props, tags_for(team, env, quality)))
                assets.append(az_asset(sub, location, "azure.compute.vm", rg, "Microsoft.Compute/virtualMachines",
                                       name, {
                    "vmId": hexid(8) + "-" + hexid(4) + "-" + hexid(4) + "-" + hexid(4) + "-" + hexid(12),
                    "hardwareProfile": {"vmSize": rng.choice(["Standard_B2s", "Standard_D4s_v5", "Standard_E8s_v5"])},
                    "storageProfile": {"osDisk": {"name": os_disk, "osType": "Linux" if linux else "Windows",
                                                  "managedDisk": {"storageAccountType": "Premium_LRS"}}},
                    "osProfile": {"computerName": name, "adminUsername": "azureuser",
                                  "linuxConfiguration": {"disablePasswordAuthentication": not (n == 2 or (not prod and n == 0))}
                                  if linux else None,
                                  "windowsConfiguration": {"enableAutomaticUpdates": n != 7} if not linux else None},
                    "securityProfile": {"encryptionAtHost": prod and n % 3 != 1},
                    "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
                    "networkSecurityGroup": nsgs[0 if n < 4 else 1],
                    "provisioningState": "Succeeded", "powerState": "running" if n != 4 else "deallocated"},
                    tags_for(team, env, quality)))
            for d in range(2):
                name = f"disk-{env[:4]}-{location[:4]}-orphan-{d}"
                assets.append(az_asset(sub, location, "azure.compute.disk", rg, "Microsoft.Compute/disks", name, {
                    "diskSizeGB": 256, "diskState": "Unattached",
                    "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
                    "networkAccessPolicy": "AllowAll", "osType": None}, tags_for("data", env, quality - 0.2)))
    return assets


def fixed(estate):
    """The estate a week later: about a third of the misconfigurations fixed,
    some resources deleted, a few new ones."""
    out = []
    r = random.Random(7)
    for a in copy.deepcopy(estate):
        kind = a["id"]["kind"]
        attrs = a["attributes"]
        fix = r.random() < 0.4
        if kind == "aws.ec2.volume" and attrs["state"] == "available" and fix:
            continue  # the unattached volume was deleted
        if kind == "azure.compute.disk" and attrs["properties"]["diskState"] == "Unattached" and fix:
            continue
        if kind == "aws.ec2.security_group" and attrs["group_name"] == "all-open-debug":
            continue  # the debugging group was removed
        if fix:
            if kind == "aws.s3.bucket":
                attrs["encryption"] = attrs["encryption"] or {"rules": [{"sse_algorithm": "AES256",
                                                                         "kms_master_key_id": None,
                                                                         "bucket_key_enabled": False}]}
                attrs["versioning"]["status"] = "Enabled"
            elif kind == "aws.ec2.instance":
                attrs["metadata_options"]["http_tokens"] = "required"
            elif kind == "aws.ec2.security_group":
                for rule in attrs["ingress"]:
                    if rule["cidr"] in ("0.0.0.0/0", "::/0") and rule["from_port"] in (22, 3389, 3306):
                        rule["cidr"] = "10.0.0.0/16"
            elif kind == "aws.iam.user":
                attrs["mfa_active"] = attrs["password_enabled"]
            elif kind == "azure.storage.account":
                attrs["properties"]["minimumTlsVersion"] = "TLS1_2"
                attrs["properties"]["supportsHttpsTrafficOnly"] = True
            elif kind == "azure.compute.vm":
                attrs["properties"]["securityProfile"]["encryptionAtHost"] = True
        # Tag hygiene improves too.
        if r.random() < 0.3 and a.get("tags", {}).get("Team") and kind != "aws.ec2.security_group":
            team = a["tags"]["Team"]
            a["tags"]["Owner"] = f"{team}-team@example.com"
            a["tags"].setdefault("CostCenter", COST_CENTERS.get(team, "CC-1004"))
        out.append(a)
    # New resources: a compliant bucket and a misconfigured one.
    account, region = "111122223333", "us-east-1"
    for name, public in [("acme-production-us-east-1-payments-reports", False),
                         ("acme-production-us-east-1-marketing-share", True)]:
        out.append(aws_asset(account, region, "aws.s3.bucket", name, {
            "name": name, "arn": f"arn:aws:s3:::{name}", "creation_date": RECENT,
            "acl": {"owner_id": "f" * 64, "grants": [{"grantee": {
                "type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers", "id": None,
                "display_name": None, "email": None}, "permission": "READ"}] if public else []},
            "policy": None, "policy_is_public": False,
            "public_access_block": None if public else {"block_public_acls": True, "ignore_public_acls": True,
                                                        "block_public_policy": True, "restrict_public_buckets": True},
            "encryption": {"rules": [{"sse_algorithm": "aws:kms", "kms_master_key_id": None, "bucket_key_enabled": True}]},
            "versioning": {"status": "Enabled", "mfa_delete": None},
            "logging": {"target_bucket": "acme-production-us-east-1-platform-logs", "target_prefix": name + "/"},
            "website": None},
            {"Owner": "payments-team@example.com" if not public else "marketing-team@example.com",
             "Environment": "production", "CostCenter": "CC-1001", "Team": "payments"}, name=name))
    return out


def write(name, assets):
    assets = sorted(assets, key=lambda a: (a["id"]["provider"], a["id"]["account"], a["id"]["region"],
                                          a["id"]["kind"], a["id"]["resource_id"]))
    with open(os.path.join(HERE, name), "w") as f:
        f.write("[\n")
        for i, a in enumerate(assets):
            f.write(json.dumps(a, sort_keys=True, separators=(",", ":")))
            f.write(",\n" if i + 1 < len(assets) else "\n")
        f.write("]\n")
    return len(assets)


if __name__ == "__main__":
    estate = aws_estate() + azure_estate()
    n = write("estate.json", estate)
    m = write("estate-fixed.json", fixed(estate))
    print(f"estate.json: {n} assets; estate-fixed.json: {m} assets")
