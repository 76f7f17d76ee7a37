"""Where the stored renditions' bytes live, so that every app server sees them.

- ``database`` (default): the ``media_blobs`` table, keyed by sha256. Nothing else to run.
- ``s3``: an S3-compatible bucket (AWS S3, MinIO, Ceph, Garage...), through boto3, keyed
  ``media/<sha256>``. Credentials come from boto3's usual sources (``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY``, an instance role...); the bucket must exist.

Both are content-addressed: writing the same bytes twice is harmless (the database insert skips an
existing hash; a bucket overwrites an object with identical bytes), so two uploads of one image at
once need no coordination here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.media.models import MediaBlob


class Store(Protocol):
    name: str

    def put(self, session: Session, sha256: str, data: bytes, content_type: str) -> None: ...

    def get(self, session: Session, sha256: str) -> bytes | None: ...

    def delete(self, session: Session, sha256: str) -> None: ...


class DatabaseStore:
    name = "database"

    def put(self, session: Session, sha256: str, data: bytes, content_type: str) -> None:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(insert(MediaBlob).values(sha256=sha256, data=data).on_conflict_do_nothing())

    def get(self, session: Session, sha256: str) -> bytes | None:
        return session.scalar(select(MediaBlob.data).where(MediaBlob.sha256 == sha256))

    def delete(self, session: Session, sha256: str) -> None:
        blob = session.get(MediaBlob, sha256)
        if blob is not None:
            session.delete(blob)


@dataclass
class S3Store:
    bucket: str
    client: Any
    name: str = "s3"

    @classmethod
    def from_settings(cls, bucket: str, endpoint_url: str | None, region: str | None) -> S3Store:
        import boto3  # only when a bucket is configured

        client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None)
        return cls(bucket, client)

    @staticmethod
    def key(sha256: str) -> str:
        return f"media/{sha256}"

    def put(self, session: Session, sha256: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.key(sha256), Body=data, ContentType=content_type)

    def get(self, session: Session, sha256: str) -> bytes | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))
        except self.client.exceptions.NoSuchKey:
            return None
        return answer["Body"].read()

    def delete(self, session: Session, sha256: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256))
