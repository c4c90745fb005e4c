#!/usr/bin/env python3
"""Writes the scanner's demo estate: estate.json and estate-fixed.json.

Run from anywhere: `python3 examples/scanner/demo/generate.py`. The output is
deterministic (seeded), so re-running it changes nothing unless this script
changes. estate.json is a fictional company's AWS and Azure estate with a mix
of misconfigurations; estate-fixed.json is the same estate a week later:
some misconfigurations fixed, a few resources deleted, two new buckets (one
of them public).

Every attribute document follows the documented shape of its kind exactly
(every field present, nothing else): pacbot-aws/src/shapes.md for AWS,
pacbot-azure/src/shapes.md for Azure. tests/scanner.rs checks that by reading
every document into the Rust type of its kind, so the built-in `aws` and
`azure` packs judge the demo as they judge a real scan.

Every time in the estate is long past, beyond every age threshold of the
packs, so a scan gives the same results whenever it runs.
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
RECENT = "2025-09-01T08:00:00Z"     # the newest time in the estate: still long past


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
            "root_mfa_enabled": prod, "root_access_keys_present": not prod, "root_hardware_mfa": prod,
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
                "mfa_devices": [{"serial_number": f"arn:aws:iam::{account}:mfa/{user}", "enable_date": OLDER}]
                if console and i % 5 != 1 else [],
                "access_keys": keys, "groups": ["admins"] if i < 2 else ["developers"],
                # One developer per account has the customer policy `everything` attached directly.
                "attached_policies": [{"policy_name": "everything",
                                       "policy_arn": f"arn:aws:iam::{account}:policy/everything"}] if i == 7 else [],
                "inline_policies": [], "permissions_boundary_arn": None},
                tags_for(team, env, quality), name=user))
        users = [a["attributes"]["user_name"] for a in assets
                 if a["id"]["kind"] == "aws.iam.user" and a["id"]["account"] == account]
        for group, members, policies in [
            ("admins", users[:2], [{"policy_name": "AdministratorAccess",
                                    "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"}]),
            ("developers", users[2:], [{"policy_name": "PowerUserAccess",
                                        "policy_arn": "arn:aws:iam::aws:policy/PowerUserAccess"}]),
            ("auditors", [], [{"policy_name": "SecurityAudit", "policy_arn": "arn:aws:iam::aws:policy/SecurityAudit"}]),
        ]:
            assets.append(aws_asset(account, "global", "aws.iam.group", group, {
                "group_name": group, "group_id": "AGPA" + hexid(16).upper(),
                "arn": f"arn:aws:iam::{account}:group/{group}", "path": "/", "create_date": OLDER,
                "users": members, "attached_policies": policies, "inline_policies": []}, {}, name=group))
        for pname, statement, count in [
            ("everything", {"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}, 1),
            ("read-reports", {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                              "Resource": [f"arn:aws:s3:::acme-{env}-*"]}, 0),
        ]:
            arn = f"arn:aws:iam::{account}:policy/{pname}"
            assets.append(aws_asset(account, "global", "aws.iam.policy", arn, {
                "policy_name": pname, "policy_id": "ANPA" + hexid(16).upper(), "arn": arn, "path": "/",
                "default_version_id": "v1", "attachment_count": count, "is_attachable": True,
                "create_date": OLDER, "update_date": OLD,
                "document": {"Version": "2012-10-17", "Statement": [statement]}}, {}, name=pname))
        for role in ["app", "ci-deploy", "audit", "backup", "lambda-exec"]:
            # Staging's `audit` role trusts every AWS principal: anyone can assume it.
            trust = {"AWS": ["*"]} if role == "audit" and not prod else {"Service": ["ec2.amazonaws.com"]}
            assets.append(aws_asset(account, "global", "aws.iam.role", role, {
                "role_name": role, "role_id": "AROA" + hexid(16).upper(), "arn": f"arn:aws:iam::{account}:role/{role}",
                "path": "/", "create_date": OLDER,
                "assume_role_policy": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": trust, "Action": ["sts:AssumeRole"]}]},
                "attached_policies": [], "inline_policies": [],
                "instance_profile_arns": [f"arn:aws:iam::{account}:instance-profile/app"] if role == "app" else [],
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
            igw = assets[-1]["attributes"]["internet_gateway_ids"][0]
            subnets = []
            public_rtb, private_rtb = "rtb-" + hexid(8), "rtb-" + hexid(8)
            for s in range(3):
                sid = "subnet-" + hexid(8)
                subnets.append(sid)
                public = s == 0
                assets.append(aws_asset(account, region, "aws.ec2.subnet", sid, {
                    "subnet_id": sid, "vpc_id": vpc, "cidr_block": f"10.0.{s * 16}.0/20", "ipv6_cidr_blocks": [],
                    "availability_zone": f"{region}{'abc'[s]}", "state": "available", "default_for_az": False,
                    "map_public_ip_on_launch": public, "route_table_id": public_rtb if public else private_rtb,
                    "route_table_explicit": public, "routes_to_internet_gateway": public},
                    {"Environment": env}))
            # The public subnet's table routes to the internet gateway; the
            # others use the VPC's main table, which does not.
            for rtb, main, explicit, routes in [
                (public_rtb, False, subnets[:1], [{"destination": "0.0.0.0/0", "target": igw, "state": "active"}]),
                (private_rtb, True, [], [{"destination": "0.0.0.0/0", "target": "nat-" + hexid(8), "state": "active"}]),
            ]:
                assets.append(aws_asset(account, region, "aws.ec2.route_table", rtb, {
                    "route_table_id": rtb, "vpc_id": vpc, "main": main, "subnet_ids": explicit,
                    "routes": [{"destination": "10.0.0.0/16", "target": "local", "state": "active"}] + routes},
                    {"Environment": env}))
            # Security groups.
            groups = []
            db_main = "sg-" + hexid(8)
            for g, (gname, rules) in enumerate([
                ("web", [sg_rule("tcp", 443, 443, "0.0.0.0/0"), sg_rule("tcp", 80, 80, "0.0.0.0/0")]),
                ("bastion", [sg_rule("tcp", 22, 22, "0.0.0.0/0" if not prod or region == "eu-west-1" else "203.0.113.0/24")]),
                ("db-main", [sg_rule("tcp", 5432, 5432, "10.0.0.0/16")]),
                ("db-legacy", [sg_rule("tcp", 3306, 3306, "10.0.0.0/16"), sg_rule("tcp", 3306, 3306, "0.0.0.0/0")]),
                ("windows-jump", [sg_rule("tcp", 3389, 3389, "0.0.0.0/0" if not prod else "198.51.100.0/24")]),
                ("all-open-debug", [sg_rule("-1", 0, 65535, "0.0.0.0/0"), sg_rule("-1", 0, 65535, "::/0")]),
                ("internal", [sg_rule("tcp", 0, 65535, None, db_main, account)]),
                ("default", []),
            ]):
                if gname == "all-open-debug" and prod and region == "us-east-1":
                    continue
                gid = db_main if gname == "db-main" else "sg-" + hexid(8)
                groups.append((gid, gname))
                assets.append(aws_asset(account, region, "aws.ec2.security_group", gid, {
                    "group_id": gid, "group_name": gname, "description": f"{gname} servers", "vpc_id": vpc,
                    "owner_id": account, "is_default": gname == "default", "ingress": rules,
                    # Production emptied its default groups (CIS); staging did not.
                    "egress": [] if gname == "default" and prod else [sg_rule("-1", 0, 65535, "0.0.0.0/0")],
                    "network_interface_count": 0 if gname in ("all-open-debug", "db-legacy") else rng.randint(1, 9),
                    "referenced_by": []}, {"Environment": env, "Team": "platform"}, name=gname))
            by_name = {n: a for a in assets[-len(groups):] for n in [a["attributes"]["group_name"]]}
            by_name["db-main"]["attributes"]["referenced_by"] = [by_name["internal"]["attributes"]["group_id"]]
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
                    "iam_instance_profile_arn": None if i == 4 else f"arn:aws:iam::{account}:instance-profile/app",
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
                statements = []
                if public_policy:
                    statements.append({"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
                                       "Resource": [f"arn:aws:s3:::{bname}/*"]})
                if prod and b % 2 == 0:
                    # Production's platform baseline: refuse plain HTTP.
                    statements.append({"Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": ["s3:*"],
                                       "Resource": [f"arn:aws:s3:::{bname}", f"arn:aws:s3:::{bname}/*"],
                                       "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
                policy = {"Version": "2012-10-17", "Statement": statements} if statements else None
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
                    "object_ownership": "BucketOwnerEnforced" if prod and not public_acl else "ObjectWriter",
                    "website": {"index_document": "index.html", "error_document": None,
                                "redirect_all_requests_to": None} if bname.endswith("-www") else None},
                    tags_for(team, env, quality), name=bname))
    return assets


def arm_id(sub, rg, provider_type, name):
    """The lowercase ARM id of a resource (the shapes' convention)."""
    return f"/subscriptions/{sub}/resourcegroups/{rg}/providers/{provider_type}/{name}".lower()


def az_asset(sub, location, kind, rid, attrs, tags):
    return {"id": {"provider": "azure", "account": sub, "region": location, "kind": kind, "resource_id": rid},
            "name": attrs["name"], "attributes": attrs, "tags": tags}


def nsg_rule(name, priority, access, protocol, source, port, default=False, description=None):
    lo, hi = (0, 65535) if port == "*" else tuple(int(p) for p in (port.split("-") * 2)[:2])
    return {"name": name, "priority": priority, "direction": "Inbound", "access": access, "protocol": protocol,
            "port_range": port, "from_port": lo, "to_port": hi, "source": source, "source_asg_id": None,
            "destinations": ["*"], "default": default, "description": description}


# The six rules ARM adds to every network security group (three shown here
# are inbound; the outbound ones do not concern the pack but are listed too).
DEFAULT_NSG_RULES = [
    nsg_rule("AllowVnetInBound", 65000, "Allow", "*", "VirtualNetwork", "*", True,
             "Allow inbound traffic from all VMs in VNET"),
    nsg_rule("AllowAzureLoadBalancerInBound", 65001, "Allow", "*", "AzureLoadBalancer", "*", True,
             "Allow inbound traffic from azure load balancer"),
    nsg_rule("DenyAllInBound", 65500, "Deny", "*", "*", "*", True, "Deny all inbound traffic"),
]
DEFAULT_NSG_RULES += [dict(r, direction="Outbound", name=r["name"].replace("InBound", "OutBound"),
                           description=r["description"].replace("inbound", "outbound"))
                      for r in DEFAULT_NSG_RULES]


def azure_estate():
    assets = []
    for sub, env in AZ_SUBS.items():
        prod = env == "production"
        quality = 0.88 if prod else 0.65
        for location in AZ_LOCATIONS:
            rg = f"rg-{env}-{location}"
            rg_id = f"/subscriptions/{sub}/resourcegroups/{rg}".lower()
            assets.append(az_asset(sub, location, "azure.resources.group", rg_id, {
                "id": rg_id, "name": rg, "location": location, "provisioning_state": "Succeeded",
                "managed_by": None}, {"Owner": "platform-team@example.com", "Environment": env}
                if prod else {"Owner": "platform-team@example.com"}))
            common = {"resource_group": rg, "location": location}

            # Storage accounts and their blob containers.
            for n in range(6 if prod else 4):
                team = TEAMS[(n + 2) % len(TEAMS)]
                name = f"st{env[:4]}{location[:4]}{team[:4]}{n}"
                sid = arm_id(sub, rg, "Microsoft.Storage/storageAccounts", name)
                public_blobs = n == 1
                assets.append(az_asset(sub, location, "azure.storage.account", sid, {
                    "id": sid, "name": name, **common, "kind": "StorageV2",
                    "sku": "Standard_GRS" if prod else "Standard_LRS", "access_tier": "Hot",
                    "provisioning_state": "Succeeded", "creation_time": OLDER,
                    "supports_https_traffic_only": not (n == 3 and not prod),
                    "minimum_tls_version": "TLS1_2" if prod or n % 2 == 0 else "TLS1_0",
                    "allow_blob_public_access": public_blobs,
                    "allow_shared_key_access": not (prod and n % 2 == 0),
                    "allow_cross_tenant_replication": False,
                    "public_network_access": "Disabled" if prod and n == 5 else "Enabled",
                    "is_hns_enabled": team == "data",
                    "network_acls": {"default_action": "Deny" if prod and n != 1 else "Allow",
                                     "bypass": "AzureServices",
                                     "ip_rules": ["203.0.113.0/24"] if prod and n != 1 else [],
                                     "virtual_network_rule_ids": []},
                    "encryption": {"key_source": "Microsoft.Storage",
                                   "require_infrastructure_encryption": prod and n % 2 == 0,
                                   "blob_enabled": True, "file_enabled": True, "key_vault_uri": None},
                    "private_endpoint_connection_count": 1 if prod and n == 5 else 0,
                    # Soft delete: production's baseline except account 2; development's
                    # odd accounts have none, its even ones blobs only.
                    "blob_service": {
                        "delete_retention_enabled": (n != 2) if prod else (n % 2 == 0),
                        "delete_retention_days": (7 if n != 2 else None) if prod else (7 if n % 2 == 0 else None),
                        "container_delete_retention_enabled": (n != 2) if prod else None,
                        "container_delete_retention_days": (7 if n != 2 else None) if prod else None,
                        "versioning_enabled": True if prod and n != 2 else None}},
                    tags_for(team, env, quality)))
                for c, (cname, level) in enumerate([("data", "None"), ("images", "Blob" if public_blobs else None),
                                                    ("exports", "Container" if n == 2 else "None")]):
                    cid = f"{sid}/blobservices/default/containers/{cname}"
                    assets.append(az_asset(sub, location, "azure.storage.container", cid, {
                        "id": cid, "name": cname, **common, "account_name": name, "account_id": sid,
                        "public_access": level, "has_immutability_policy": False, "has_legal_hold": False,
                        "deleted": False, "last_modified_time": OLD}, {}))

            # Network security groups.
            nsg_ids = []
            for nname, rules in [
                ("web", [nsg_rule("allow-https", 100, "Allow", "Tcp", "Internet", "443")]),
                ("ssh", [nsg_rule("allow-ssh", 100, "Allow", "Tcp",
                                  "Internet" if not prod or location == "eastus" else "10.1.0.0/16", "22")]),
                ("rdp", [nsg_rule("allow-rdp", 100, "Allow", "Tcp", "*" if not prod else "10.1.0.0/16", "3389")]),
                ("db", [nsg_rule("allow-sql", 100, "Allow", "Tcp", "VirtualNetwork", "1433"),
                        nsg_rule("deny-all", 4096, "Deny", "*", "*", "*")]),
                ("legacy", [nsg_rule("any-any", 100, "Allow", "*", "0.0.0.0/0", "*")] if not prod else
                 [nsg_rule("allow-dns", 100, "Allow", "Udp", "*", "53")] if location == "westeurope" else
                 [nsg_rule("allow-https", 100, "Allow", "Tcp", "*", "443")]),
            ]:
                name = f"nsg-{env[:4]}-{location}-{nname}"
                nid = arm_id(sub, rg, "Microsoft.Network/networkSecurityGroups", name)
                nsg_ids.append(nid)
                assets.append(az_asset(sub, location, "azure.network.nsg", nid, {
                    "id": nid, "name": name, **common, "rules": rules + copy.deepcopy(DEFAULT_NSG_RULES),
                    "subnet_ids": [arm_id(sub, rg, "Microsoft.Network/virtualNetworks",
                                          f"vnet-{env}-{location}/subnets/{nname}")],
                    "network_interface_ids": []},
                    {"Environment": env, "Team": "platform", "Owner": "platform-team@example.com"}))

            # Virtual machines with their disks.
            for n in range(8 if prod else 5):
                team = TEAMS[n % len(TEAMS)]
                name = f"vm-{env[:4]}-{location[:4]}-{team}-{n}"
                vid = arm_id(sub, rg, "Microsoft.Compute/virtualMachines", name)
                linux = n % 4 != 3
                legacy = not prod and n == 4  # a classic VM whose data disk is a page blob
                disks = [f"{name}-osdisk"] + ([f"{name}-data"] if n % 3 == 0 and not legacy else [])
                vm_tags = tags_for(team, env, quality)
                for d, dname in enumerate(disks):
                    did = arm_id(sub, rg, "Microsoft.Compute/disks", dname)
                    cmk = prod and team in ("payments", "identity")
                    assets.append(az_asset(sub, location, "azure.compute.disk", did, {
                        "id": did, "name": dname, **common, "sku": "Premium_LRS", "disk_size_gb": 64 if d == 0 else 512,
                        "disk_state": "Attached", "managed_by": vid,
                        "os_type": ("Linux" if linux else "Windows") if d == 0 else None, "time_created": OLDER,
                        "encryption_type": "EncryptionAtRestWithCustomerKey" if cmk
                        else "EncryptionAtRestWithPlatformKey",
                        "disk_encryption_set_id": arm_id(sub, rg, "Microsoft.Compute/diskEncryptionSets", "des-cmk")
                        if cmk else None,
                        "ade_enabled": False, "network_access_policy": "DenyAll" if prod else "AllowAll",
                        "public_network_access": "Disabled" if prod else "Enabled"}, vm_tags))
                data_disks = [{"lun": 0, "name": dname, "managed_disk_id": arm_id(sub, rg, "Microsoft.Compute/disks", dname),
                               "vhd_uri": None, "disk_encryption_set_id": None} for dname in disks[1:]]
                if legacy:
                    data_disks.append({"lun": 0, "name": f"{name}-data", "managed_disk_id": None,
                                       "vhd_uri": f"https://stdevelegacy.blob.core.windows.net/vhds/{name}-data.vhd",
                                       "disk_encryption_set_id": None})
                assets.append(az_asset(sub, location, "azure.compute.vm", vid, {
                    "id": vid, "name": name, **common,
                    "vm_id": "-".join(hexid(k) for k in (8, 4, 4, 4, 12)),
                    "vm_size": rng.choice(["Standard_B2s", "Standard_D4s_v5", "Standard_E8s_v5"]),
                    "provisioning_state": "Succeeded", "os_type": "Linux" if linux else "Windows",
                    "os_disk": {"name": disks[0], "managed_disk_id": arm_id(sub, rg, "Microsoft.Compute/disks", disks[0]),
                                "vhd_uri": None, "disk_encryption_set_id": None},
                    "data_disks": data_disks, "managed_disks": not legacy,
                    "disable_password_authentication": (not (n == 2 or (not prod and n == 0))) if linux else None,
                    "encryption_at_host": True if prod and n % 3 != 1 else None,
                    "security_type": "TrustedLaunch" if prod else None,
                    "network_interface_ids": [arm_id(sub, rg, "Microsoft.Network/networkInterfaces", f"{name}-nic")],
                    "identity_type": "SystemAssigned" if n % 2 == 0 else None, "zones": ["1"] if prod else [],
                    # Production deallocates its spare VM; development's VM 1 was shut
                    # down from inside the guest, so it is stopped but still allocated.
                    "power_state": "deallocated" if prod and n == 4 else "stopped" if not prod and n == 1 else "running"},
                    vm_tags))
            for d in range(2):
                name = f"disk-{env[:4]}-{location[:4]}-orphan-{d}"
                did = arm_id(sub, rg, "Microsoft.Compute/disks", name)
                assets.append(az_asset(sub, location, "azure.compute.disk", did, {
                    "id": did, "name": name, **common, "sku": "Standard_LRS", "disk_size_gb": 256,
                    "disk_state": "Unattached", "managed_by": None, "os_type": None, "time_created": OLDER,
                    # An old snapshot restored without encryption settings.
                    "encryption_type": None if not prod and d == 1 else "EncryptionAtRestWithPlatformKey",
                    "disk_encryption_set_id": None, "ade_enabled": False, "network_access_policy": "AllowAll",
                    "public_network_access": "Enabled"}, tags_for("data", env, quality - 0.2)))

            # A SQL server with its databases (master included) and a key vault.
            sname = f"sql-{env[:4]}-{location}"
            sql_id = arm_id(sub, rg, "Microsoft.Sql/servers", sname)
            firewall = [{"name": "office", "start_ip": "203.0.113.10", "end_ip": "203.0.113.20"}]
            if not prod or location == "eastus":
                firewall.append({"name": "AllowAllWindowsAzureIps", "start_ip": "0.0.0.0", "end_ip": "0.0.0.0"})
            if not prod and location == "westeurope":
                firewall.append({"name": "everyone", "start_ip": "0.0.0.0", "end_ip": "255.255.255.255"})
            assets.append(az_asset(sub, location, "azure.sql.server", sql_id, {
                "id": sql_id, "name": sname, **common, "version": "12.0",
                "fully_qualified_domain_name": f"{sname}.database.windows.net", "administrator_login": "sqladmin",
                "public_network_access": "Enabled", "minimal_tls_version": "1.2",
                "entra_admin": {"login": "dba-group", "sid": "2f1c7c9e-0000-4000-8000-000000000001",
                                "azure_ad_only_authentication": prod} if prod else None,
                "firewall_rules": firewall,
                "auditing_state": "Enabled" if prod else "Disabled", "auditing_retention_days": 90 if prod else 0},
                tags_for("data", env, quality)))
            for dbname, system in [("master", True), ("orders", False), ("reports", False)]:
                db_id = f"{sql_id}/databases/{dbname}"
                assets.append(az_asset(sub, location, "azure.sql.database", db_id, {
                    "id": db_id, "name": dbname, **common, "server_name": sname, "server_id": sql_id,
                    "status": "Online", "sku": "System" if system else "S0", "is_system": system,
                    "creation_date": OLDER,
                    "transparent_data_encryption": "Disabled" if dbname == "reports" and not prod else "Enabled"},
                    {} if system else tags_for("data", env, quality)))
            vname = f"kv-{env[:4]}-{location}"
            kv_id = arm_id(sub, rg, "Microsoft.KeyVault/vaults", vname)
            assets.append(az_asset(sub, location, "azure.keyvault.vault", kv_id, {
                "id": kv_id, "name": vname, **common, "vault_uri": f"https://{vname}.vault.azure.net/",
                "sku": "premium" if prod else "standard", "tenant_id": "11111111-1111-1111-1111-111111111111",
                "enable_soft_delete": True, "soft_delete_retention_days": 90,
                "enable_purge_protection": True if prod else None,
                "enable_rbac_authorization": True if prod and location == "westeurope" else None,
                "public_network_access": "Enabled",
                "network_acls": {"default_action": "Deny" if prod else "Allow", "bypass": "AzureServices"},
                "access_policy_count": 0 if prod and location == "westeurope" else 3},
                tags_for("platform", env, quality)))
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
        if kind == "azure.compute.disk" and attrs["disk_state"] == "Unattached" and fix:
            continue  # the orphaned disk was deleted
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
                attrs["minimum_tls_version"] = "TLS1_2"
                attrs["supports_https_traffic_only"] = True
                attrs["blob_service"].update(delete_retention_enabled=True, delete_retention_days=7,
                                             container_delete_retention_enabled=True,
                                             container_delete_retention_days=7)
            elif kind == "azure.compute.vm":
                if attrs["disable_password_authentication"] is False:
                    attrs["disable_password_authentication"] = True
            elif kind == "azure.network.nsg":
                for rule in attrs["rules"]:
                    if not rule["default"] and rule["source"] in ("*", "Internet", "0.0.0.0/0") \
                            and rule["port_range"] in ("22", "3389"):
                        rule["source"] = "10.1.0.0/16"
            elif kind == "azure.sql.server":
                attrs["firewall_rules"] = [r for r in attrs["firewall_rules"] if r["end_ip"] != "255.255.255.255"]
            elif kind == "azure.keyvault.vault":
                attrs["enable_purge_protection"] = True
        # Tag hygiene improves too.
        if r.random() < 0.3 and a.get("tags", {}).get("Team") and kind != "aws.ec2.security_group":
            team = a["tags"]["Team"]
            a["tags"]["Owner"] = f"{team}-team@example.com"
            a["tags"].setdefault("CostCenter", COST_CENTERS.get(team, "CC-1004"))
        out.append(a)
    # New resources: a compliant bucket in production, and one in staging
    # (which has no account-wide public access block) readable by everyone.
    for account, env, name, public in [
        ("111122223333", "production", "acme-production-us-east-1-payments-reports", False),
        ("444455556666", "staging", "acme-staging-us-east-1-marketing-share", True),
    ]:
        region = "us-east-1"
        deny_http = {"Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": ["s3:*"],
                     "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
        out.append(aws_asset(account, region, "aws.s3.bucket", name, {
            "name": name, "arn": f"arn:aws:s3:::{name}", "creation_date": RECENT,
            "acl": {"owner_id": "f" * 64, "grants": [{"grantee": {
                "type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers", "id": None,
                "display_name": None, "email": None}, "permission": "READ"}] if public else []},
            "policy": None if public else {"Version": "2012-10-17", "Statement": [deny_http]},
            "policy_is_public": False,
            "public_access_block": None if public else {"block_public_acls": True, "ignore_public_acls": True,
                                                        "block_public_policy": True, "restrict_public_buckets": True},
            "encryption": {"rules": [{"sse_algorithm": "aws:kms", "kms_master_key_id": None, "bucket_key_enabled": True}]},
            "versioning": {"status": "Enabled", "mfa_delete": "Disabled" if public else "Enabled"},
            "logging": {"target_bucket": f"acme-{env}-us-east-1-platform-logs", "target_prefix": name + "/"},
            "object_ownership": "ObjectWriter" if public else "BucketOwnerEnforced",
            "website": None},
            {"Owner": "marketing-team@example.com" if public else "payments-team@example.com",
             "Environment": env, "CostCenter": "CC-1001", "Team": "payments"}, name=name))
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
